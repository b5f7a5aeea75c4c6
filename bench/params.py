"""Typed parameters read from ``params.yaml``: the one place where features, model and protocol are set.

Every section is parsed strictly: an unknown or missing key is an error naming its path, so a typo in
params.yaml never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_args, get_type_hints

import yaml

from bench.errors import UserError

DATA_ROOT_ENV = "DISTRACK_DATA_ROOT"
DEFAULT_PARAMS_FILE = "params.yaml"

T = TypeVar("T")


@dataclass(frozen=True)
class FeatureParams:
    """Log-mel front end. Waveforms are padded/cropped to ``(frames - 1) * hop_length`` samples so the
    centred STFT yields exactly ``frames`` frames."""

    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    frames: int
    f_min: float = 0.0
    f_max: float | None = None
    log_eps: float = 1e-6

    @property
    def num_samples(self) -> int:
        return (self.frames - 1) * self.hop_length

    @property
    def shape(self) -> tuple[int, int, int]:
        return (1, self.n_mels, self.frames)


@dataclass(frozen=True)
class ModelParams:
    """The ConvNet family of the dataset-distillation literature."""

    depth: int = 3
    width: int = 128
    norm: str = "instancenorm"
    pooling: str = "avgpool"
    activation: str = "relu"


@dataclass(frozen=True)
class ProtocolParams:
    """The fixed evaluation recipe. ``seeds`` are explicit: one network per seed."""

    epochs: int
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    batch_size: int = 256
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_decay_at: float = 0.5
    lr_decay_factor: float = 0.1
    augment: bool = False


@dataclass(frozen=True)
class Profile:
    name: str
    features: FeatureParams
    model: ModelParams
    protocol: ProtocolParams
    features_by_dataset: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    budgets: str = ""  # which techniques' built-in budget set applies (``quick`` or ``standard``)

    def features_for(self, dataset: str) -> FeatureParams:
        """The profile's feature parameters with the dataset's overrides (e.g. 5 s clips for ESC)."""
        overrides = self.features_by_dataset.get(dataset, {})
        merged = {**dataclasses.asdict(self.features), **overrides}
        return parse_section(FeatureParams, merged, f"profiles.{self.name}.features_by_dataset.{dataset}")


def require_choice(value: str, choices: tuple[str, ...], where: str) -> None:
    """Raise :class:`UserError` naming ``where`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise UserError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")


def parse_section(cls: type[T], raw: Any, where: str) -> T:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and wrong types by name."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise UserError(f"{where}: expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(fields)}")
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in raw:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise UserError(f"{where}.{name}: required key is missing")
            continue
        values[name] = _coerce(raw[name], hints[name], f"{where}.{name}")
    return cls(**values)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    text = str(hint)
    if value is None:
        if "None" in text:
            return None
        raise UserError(f"{where}: must not be null")
    if hint is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is int or text.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float or text.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise UserError(f"{where}: expected a string, got {value!r}")
        return value
    if text.startswith("tuple"):
        item_type = get_args(hint)[0]
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, item_type) and not isinstance(v, bool) for v in value
        ):
            raise UserError(f"{where}: expected a list of {item_type.__name__} values, got {value!r}")
        return tuple(value)
    return value


def load_params(path: str | os.PathLike[str] = DEFAULT_PARAMS_FILE) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: parameters file not found (run from the repository root or pass --params)")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(loaded, dict):
        raise UserError(f"{path}: expected a mapping at the top level")
    return loaded


def load_profile(params: Mapping[str, Any], name: str | None = None) -> Profile:
    name = name or params.get("profile") or "quick"
    profiles = params.get("profiles") or {}
    if name not in profiles:
        raise UserError(f"profile {name!r} is not defined in params.yaml (known: {', '.join(profiles) or 'none'})")
    raw = profiles[name]
    where = f"profiles.{name}"
    unknown = sorted(set(raw) - {"features", "model", "protocol", "features_by_dataset", "budgets"})
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}")
    by_dataset = raw.get("features_by_dataset") or {}
    profile = Profile(
        name=name,
        features=parse_section(FeatureParams, raw.get("features"), f"{where}.features"),
        model=parse_section(ModelParams, raw.get("model"), f"{where}.model"),
        protocol=parse_section(ProtocolParams, raw.get("protocol"), f"{where}.protocol"),
        features_by_dataset=by_dataset,
        budgets=str(raw.get("budgets") or name),
    )
    for dataset in by_dataset:
        profile.features_for(dataset)  # validate overrides eagerly
    return profile


def resolve_data_root(cli_value: str | os.PathLike[str] | None, params: Mapping[str, Any]) -> Path | None:
    """``--data-root`` beats ``$DISTRACK_DATA_ROOT`` beats ``data_root`` in params.yaml."""
    value = cli_value or os.environ.get(DATA_ROOT_ENV) or params.get("data_root")
    return Path(value).expanduser() if value else None
