"""Shared state of one ``distrack`` invocation (or one sweep worker): params, profile, data root, cache,
device."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from bench.data.registry import DatasetAdapter, open_dataset
from bench.device import resolve_device
from bench.errors import UserError
from bench.features.store import FeatureSet, load_feature_set
from bench.params import DEFAULT_PARAMS_FILE, Profile, load_params, load_profile, resolve_data_root
from bench.writable import ensure_folder

CACHE_ENV = "DISTRACK_CACHE_DIR"
MODELS_ROOT_ENV = "DISTRACK_MODELS_ROOT"


DEFAULT_PARAMS = "default_params.yaml"  # shipped inside the package: the suite runs from any folder


def resolve_params_path(option: Path | None) -> Path:
    """``--params`` if given (it must exist), else ``./params.yaml`` (a checkout), else the package's
    defaults (the same file as the repository's params.yaml, so the suite works from any folder)."""
    if option is not None:
        if not Path(option).is_file():
            raise UserError(f"{option}: parameters file not found (--params)")
        return Path(option)
    if Path(DEFAULT_PARAMS_FILE).is_file():
        return Path(DEFAULT_PARAMS_FILE)
    return Path(str(resources.files("bench").joinpath(DEFAULT_PARAMS)))


@dataclass
class Session:
    params_path: Path | None  # None: ./params.yaml, else the package's defaults
    profile_name: str | None
    data_root_option: Path | None
    cache_dir: Path
    device_name: str
    progress: bool
    dataset_dirs: dict[str, str]
    skip_bad: bool = False
    models_root_option: Path | None = None
    _features: dict[str, FeatureSet] = field(default_factory=dict, repr=False)

    @cached_property
    def params_file(self) -> Path:
        return resolve_params_path(self.params_path)

    @cached_property
    def params(self) -> dict[str, Any]:
        from bench.params_check import check_params

        params = load_params(self.params_file)
        check_params(params, str(self.params_file))
        datasets = params.setdefault("datasets", {}) or {}
        for name, directory in self.dataset_dirs.items():
            datasets.setdefault(name, {})["dir"] = directory
        params["datasets"] = datasets
        return params

    @cached_property
    def profile(self) -> Profile:
        return load_profile(self.params, self.profile_name)

    @cached_property
    def data_root(self) -> Path | None:
        return resolve_data_root(self.data_root_option, self.params)

    @cached_property
    def models_root(self) -> Path | None:
        """Pretrained weights: ``--models-root`` beats ``$DISTRACK_MODELS_ROOT`` beats ``models_root`` in
        params.yaml. Nothing is ever downloaded."""
        value = self.models_root_option or os.environ.get(MODELS_ROOT_ENV) or self.params.get("models_root")
        return Path(value).expanduser() if value else None

    @cached_property
    def device(self) -> torch.device:
        return resolve_device(self.device_name)

    def dataset(self, name: str) -> DatasetAdapter:
        return open_dataset(name, self.data_root, self.params)

    def features(self, name: str) -> FeatureSet:
        """Loaded once per session: a sweep cell asks for the same features for its key, its distillation,
        its evaluation and its artefacts. ``skip_bad`` (``--skip-bad``) skips unreadable audio files, counted
        in the record, instead of stopping."""
        if name not in self._features:
            ensure_folder(self.cache_dir / "features", "--cache-dir")
            self._features[name] = load_feature_set(
                self.dataset(name),
                self.profile.features_for(name),
                self.cache_dir,
                skip_bad=self.skip_bad,
                progress=self.progress,
            )
        return self._features[name]


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, "cache"))
