"""Shared state of one ``distrack`` invocation (or one sweep worker): params, profile, data root, cache,
device."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from bench.data.registry import DatasetAdapter, open_dataset
from bench.device import resolve_device
from bench.features.store import FeatureSet, load_feature_set
from bench.params import Profile, load_params, load_profile, resolve_data_root

CACHE_ENV = "DISTRACK_CACHE_DIR"


@dataclass
class Session:
    params_path: Path
    profile_name: str | None
    data_root_option: Path | None
    cache_dir: Path
    device_name: str
    progress: bool
    dataset_dirs: dict[str, str]
    _features: dict[tuple[str, bool], FeatureSet] = field(default_factory=dict, repr=False)

    @cached_property
    def params(self) -> dict[str, Any]:
        params = load_params(self.params_path)
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
    def device(self) -> torch.device:
        return resolve_device(self.device_name)

    def dataset(self, name: str) -> DatasetAdapter:
        return open_dataset(name, self.data_root, self.params)

    def features(self, name: str, skip_bad: bool = False) -> FeatureSet:
        """Loaded once per session: a sweep cell asks for the same features for its key, its distillation,
        its evaluation and its artefacts."""
        key = (name, skip_bad)
        if key not in self._features:
            self._features[key] = self._load_features(name, skip_bad)
        return self._features[key]

    def _load_features(self, name: str, skip_bad: bool) -> FeatureSet:
        return load_feature_set(
            self.dataset(name),
            self.profile.features_for(name),
            self.cache_dir,
            skip_bad=skip_bad,
            progress=self.progress,
        )


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, "cache"))
