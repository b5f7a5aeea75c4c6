"""Result records: one JSON document per evaluation, validated against a versioned JSON schema
(``record.schema.json`` beside this module) and written atomically."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from importlib import resources
from pathlib import Path
from typing import Any

from bench.atomic import write_json_atomic
from bench.errors import UserError
from bench.evaluation.protocol import PROTOCOL_ID, ProtocolResult
from bench.evaluation.prototype import PrototypeResult
from bench.features.store import FeatureSet
from bench.params import ModelParams, ProtocolParams
from bench.provenance import environment

SCHEMA_VERSION = 1


def record_schema() -> dict[str, Any]:
    return json.loads(resources.files("bench.evaluation").joinpath("record.schema.json").read_text())


def _summary(values: list[float]) -> dict[str, Any]:
    import statistics

    return {
        "mean": statistics.fmean(values),
        "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
        "per_seed": values,
    }


def build_record(
    *,
    features: FeatureSet,
    dataset_options: dict[str, Any],
    profile: str,
    model: ModelParams,
    protocol: ProtocolParams,
    evaluated: dict[str, Any],
    result: ProtocolResult,
    prototype: PrototypeResult | None,
    device: str,
) -> dict[str, Any]:
    """``evaluated`` describes the set: technique, params, ipc, num_items, sha256, source, learned_lr."""
    return {
        "schema_version": SCHEMA_VERSION,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "dataset": {
            "name": features.dataset,
            "classes": features.class_names,
            "split_sizes": features.split_sizes(),
            "data_hash": features.data_hash,
            "subset": features.subset_note,
            "skipped_files": len(features.skipped),
            "options": dataset_options,
        },
        "features": dataclasses.asdict(features.params),
        "profile": profile,
        "protocol": {"id": PROTOCOL_ID, "params": dataclasses.asdict(protocol), "model": dataclasses.asdict(model)},
        "evaluated_set": evaluated,
        "results": {
            "seeds": [s.seed for s in result.seeds],
            "test_accuracy": _summary([s.test_accuracy for s in result.seeds]),
            "validation_accuracy": _summary([s.validation_accuracy for s in result.seeds]),
            "prototype_test_accuracy": _summary(prototype.per_seed) if prototype else None,
        },
        "cost": {
            "train_seconds_per_seed": [s.train_seconds for s in result.seeds],
            "wall_seconds": result.wall_seconds,
            "peak_memory_mb": result.peak_memory_mb,
            "device": device,
        },
        "environment": environment(),
    }


def validate_record(record: dict[str, Any], source: str = "record") -> None:
    """Raise :class:`~bench.errors.UserError` naming the first field that breaks the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(record_schema())
    errors = sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise UserError(f"{source}: field {where}: {first.message}")


def read_record(path: Path) -> dict[str, Any]:
    """Read and schema-validate one record file; every problem is an error naming the file."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a readable JSON result record ({exc})") from exc
    if not isinstance(record, dict):
        raise UserError(f"{path}: a result record must be a JSON object")
    validate_record(record, str(path))
    return record


def write_record(path: Path, record: dict[str, Any]) -> None:
    validate_record(record, str(path))
    write_json_atomic(path, record)
