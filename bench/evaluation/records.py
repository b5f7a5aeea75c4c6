"""Result records, schema version 2: one JSON document per evaluated set, its results keyed by track
(``results: {track: {protocol_id, params, model, key, seeds, metrics, main_score, cost}}``, MTEB-style),
validated against ``record.schema.json`` beside this module and written atomically. Version-1 records are
refused with a pointer to ``distrack records migrate``."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from importlib import resources
from pathlib import Path
from typing import Any

from bench.atomic import write_json_atomic
from bench.errors import UserError
from bench.evaluation.tracks.base import Track, TrackResult
from bench.features.store import FeatureSet
from bench.provenance import environment, git_commit

SCHEMA_VERSION = 2


def record_schema() -> dict[str, Any]:
    return json.loads(resources.files("bench.evaluation").joinpath("record.schema.json").read_text())


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
        "per_seed": values,
    }


def track_entry(track: Track, result: TrackResult, key: str | None) -> dict[str, Any]:
    """One track's part of a record: what ran (protocol id, params, model), its key and its numbers."""
    entry: dict[str, Any] = {
        "protocol_id": track.protocol(),
        **track.describe(),
        "key": key,
        "seeds": result.seeds,
        "metrics": {name: summary(values) for name, values in result.metrics.items()},
        "main_score": result.main_score,
        "cost": result.cost,
        "created_at": now(),
        "git_commit": git_commit(),
    }
    entry.update(result.extras)  # what the track adds beside its numbers: a confusion matrix, its choices
    return entry


def dataset_section(features: FeatureSet, options: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": features.dataset,
        "classes": features.class_names,
        "split_sizes": features.split_sizes(),
        "data_hash": features.data_hash,
        "subset": features.subset_note,
        "skipped_files": len(features.skipped),
        "options": options,
    }


def build_record(
    *,
    features: FeatureSet,
    dataset_options: dict[str, Any],
    profile: str,
    evaluated: dict[str, Any],
    results: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """``evaluated`` describes the set (kind, technique, params, ipc, sha256, ...); ``results`` maps each
    track's name to its :func:`track_entry`."""
    import dataclasses

    return {
        "schema_version": SCHEMA_VERSION,
        "created_at": now(),
        "dataset": dataset_section(features, dataset_options),
        "features": dataclasses.asdict(features.params),
        "profile": profile,
        "evaluated_set": evaluated,
        "results": dict(sorted(results.items())),
        "environment": environment(),
    }


def main_summary(record: dict[str, Any], track: str) -> dict[str, Any] | None:
    """The summary of ``track``'s main score in ``record`` (None when the track did not score it)."""
    entry = record["results"].get(track)
    return entry["metrics"][entry["main_score"]] if entry else None


def validate_record(record: dict[str, Any], source: str = "record") -> None:
    """Raise :class:`~bench.errors.UserError` naming the first field that breaks the schema."""
    import jsonschema

    if record.get("schema_version") == 1:
        raise UserError(f"{source}: a schema-version-1 record; convert it with `distrack records migrate {source}`")
    validator = jsonschema.Draft202012Validator(record_schema())
    errors = sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise UserError(f"{source}: field {where}: {first.message}")
    for name, entry in record["results"].items():
        if entry["main_score"] not in entry["metrics"]:
            raise UserError(f"{source}: results/{name}: main_score {entry['main_score']!r} is not among its metrics")


def load_json(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a readable JSON result record ({exc})") from exc
    if not isinstance(record, dict):
        raise UserError(f"{path}: a result record must be a JSON object")
    return record


def read_record(path: Path) -> dict[str, Any]:
    """Read and schema-validate one record file; every problem is an error naming the file."""
    record = load_json(path)
    validate_record(record, str(path))
    return record


def write_record(path: Path, record: dict[str, Any]) -> None:
    validate_record(record, str(path))
    write_json_atomic(path, record)
