"""Typed parameters read from ``params.yaml``: the one place where features, model and protocol are set.

Every section is parsed strictly (:mod:`bench.typed`): an unknown or missing key is an error naming its
path, so a typo in params.yaml never silently falls back to a default."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.errors import UserError
from bench.models import ModelSpec
from bench.typed import REQUIRED, parse_section, ranged, reject_unknown

DATA_ROOT_ENV = "DISTRACK_DATA_ROOT"
DEFAULT_PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class FeatureParams:
    """Log-mel front end. Waveforms are padded/cropped to ``(frames - 1) * hop_length`` samples so the
    centred STFT yields exactly ``frames`` frames."""

    sample_rate: int = ranged(REQUIRED, ge=1)
    n_fft: int = ranged(REQUIRED, ge=2)
    hop_length: int = ranged(REQUIRED, ge=1)
    n_mels: int = ranged(REQUIRED, ge=1)
    frames: int = ranged(REQUIRED, ge=2)
    f_min: float = ranged(0.0, ge=0)
    f_max: float | None = ranged(None, gt=0)
    log_eps: float = ranged(1e-6, gt=0)

    @property
    def num_samples(self) -> int:
        return (self.frames - 1) * self.hop_length

    @property
    def shape(self) -> tuple[int, int, int]:
        return (1, self.n_mels, self.frames)


@dataclass(frozen=True)
class ProtocolParams:
    """The recipe every training-based evaluation track follows. ``seeds`` are explicit: one network per
    seed, distinct."""

    epochs: int = ranged(REQUIRED, ge=1)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    batch_size: int = ranged(256, ge=1)
    lr: float = ranged(0.01, gt=0)
    momentum: float = ranged(0.9, ge=0, le=1)
    weight_decay: float = ranged(5e-4, ge=0)
    lr_decay_at: float = ranged(0.5, ge=0, le=1)
    lr_decay_factor: float = ranged(0.1, gt=0)

    def check(self, where: str) -> None:
        if not self.seeds:
            raise UserError(f"{where}.seeds: at least one evaluation seed is needed")
        if len(set(self.seeds)) != len(self.seeds):
            raise UserError(f"{where}.seeds: seeds must be distinct, got {list(self.seeds)}")


@dataclass(frozen=True)
class Profile:
    name: str
    features: FeatureParams
    model: ModelSpec
    protocol: ProtocolParams
    features_by_dataset: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    budgets: str = ""  # which techniques' built-in budget set applies (``quick`` or ``standard``)

    def features_for(self, dataset: str) -> FeatureParams:
        """The profile's feature parameters with the dataset's overrides (e.g. 5 s clips for ESC)."""
        overrides = self.features_by_dataset.get(dataset, {})
        merged = {**dataclasses.asdict(self.features), **overrides}
        return parse_section(FeatureParams, merged, f"profiles.{self.name}.features_by_dataset.{dataset}")


def parse_protocol(raw: Any, where: str) -> ProtocolParams:
    protocol = parse_section(ProtocolParams, raw, where)
    protocol.check(where)
    return protocol


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
    reject_unknown(raw, ("features", "model", "protocol", "features_by_dataset", "budgets"), where)
    by_dataset = raw.get("features_by_dataset") or {}
    profile = Profile(
        name=name,
        features=parse_section(FeatureParams, raw.get("features"), f"{where}.features"),
        model=ModelSpec.parse(raw.get("model"), f"{where}.model"),
        protocol=parse_protocol(raw.get("protocol"), f"{where}.protocol"),
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
