"""Check a whole params file before any work: every key at every level, with a did-you-mean.

The typed sections (profiles, technique and track settings, the grid) are parsed by their own code; this
module adds what nothing else looked at: the top-level keys, the names under ``datasets``, ``techniques``
and ``tracks`` (a misspelt section used to be ignored), and every section's values, including those of
datasets, techniques and tracks the current command does not use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.data.registry import dataset_names, get_dataset
from bench.errors import UserError
from bench.evaluation.tracks.registry import TRACKS
from bench.overrides import BY_DATASET, component_overrides
from bench.params import load_profile
from bench.registry import Registry
from bench.techniques.registry import TECHNIQUES
from bench.typed import did_you_mean, parse_section, reject_unknown

TOP_LEVEL = ("data_root", "models_root", "profile", "datasets", "profiles", "techniques", "tracks", "grid")
DATASET_KEYS = ("dir", "limit_per_class")  # read by every adapter; the rest are its typed options


def _section(params: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = params.get(key) or {}
    if not isinstance(value, Mapping):
        raise UserError(f"{source}: {key}: expected a mapping, got {type(value).__name__}")
    return value


def _known_names(section: Mapping[str, Any], known: list[str], where: str) -> None:
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise UserError(f"{where}: unknown {unknown[0]!r}{did_you_mean(unknown[0], known)}; known: {', '.join(known)}")


def _components(params: Mapping[str, Any], family: str, registry: Registry, source: str) -> None:
    """Every section of ``family`` resolves and types for every profile and dataset it names."""
    section = _section(params, family, source)
    _known_names(section, registry.names(), f"{source}: {family}")
    profiles = params.get("profiles") or {}
    for name, raw in section.items():
        cls = registry.get(name)
        datasets = [None, *((raw or {}).get(BY_DATASET) or {})] if isinstance(raw, Mapping) else [None]
        for profile_name in profiles or ["quick"]:
            budgets = str((profiles.get(profile_name) or {}).get("budgets") or profile_name)
            for dataset in datasets:
                cls.configure(budgets, component_overrides(params, family, name, profile_name, dataset))


def check_params(params: Mapping[str, Any], source: str) -> None:
    """Raise one :class:`UserError` naming ``source`` and the first bad key."""
    reject_unknown(params, TOP_LEVEL, source)
    datasets = _section(params, "datasets", source)
    _known_names(datasets, dataset_names(), f"{source}: datasets")
    for name, raw in datasets.items():
        options = {k: v for k, v in (raw or {}).items() if k not in DATASET_KEYS}
        parse_section(get_dataset(name).Options, options, f"{source}: datasets.{name}")
    profiles = _section(params, "profiles", source)
    for name in profiles:
        load_profile(params, name)
    chosen = params.get("profile")
    if chosen is not None and chosen not in profiles:
        raise UserError(f"{source}: profile {chosen!r} is not defined{did_you_mean(str(chosen), profiles)}")
    _components(params, "techniques", TECHNIQUES, source)
    _components(params, "tracks", TRACKS, source)
    if "grid" in params:
        from bench.pipeline.grid import load_grid

        load_grid(params)
