"""A component's settings from params.yaml: its section under ``techniques:`` or ``tracks:``, then the
section's ``by_profile.<profile>`` values, then ``by_dataset.<dataset>``, then ``--param KEY=VALUE`` pairs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from bench.errors import UserError
from bench.typed import did_you_mean

BY_DATASET = "by_dataset"
BY_PROFILE = "by_profile"


def parse_value(text: str) -> Any:
    """A ``--param`` value as YAML, except that ``1e-6`` is a number (YAML 1.1 wants ``1.0e-6``)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _scoped(section: dict[str, Any], where: str, key: str, known: Mapping[str, Any], what: str) -> dict[str, Any]:
    scoped = section.pop(key, None) or {}
    if not isinstance(scoped, dict) or not all(isinstance(v, dict) for v in scoped.values()):
        raise UserError(f"params.yaml {where}.{key}: expected a mapping {what} -> params")
    unknown = sorted(set(scoped) - set(known or {}))
    if unknown:
        hint = did_you_mean(unknown[0], known or {})
        raise UserError(f"params.yaml {where}.{key}: unknown {what}(s) {unknown}{hint}")
    return scoped


def component_overrides(
    params: Mapping[str, Any],
    family: str,
    name: str,
    profile: str,
    dataset: str | None = None,
    pairs: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``params[family][name]`` resolved for ``profile`` and ``dataset``, then ``KEY=VALUE`` pairs."""
    where = f"{family}.{name}"
    section = dict((params.get(family) or {}).get(name) or {})
    per_profile = _scoped(section, where, BY_PROFILE, params.get("profiles") or {}, "profile")
    per_dataset = _scoped(section, where, BY_DATASET, params.get("datasets") or {}, "dataset")
    section.update(per_profile.get(profile, {}))
    if dataset is not None:
        section.update(per_dataset.get(dataset, {}))
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--param expects KEY=VALUE, got {pair!r}")
        section[key] = parse_value(value)
    return section
