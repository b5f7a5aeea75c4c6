"""Schema-version-1 records -> version 2, by code (``distrack records migrate``), never by hand.

Version 1 kept one protocol's numbers at the top level (``protocol``, ``results.test_accuracy``,
``results.prototype_test_accuracy``, ``cost``). Version 2 keys results by track; the migration moves the
ConvNet protocol's numbers under ``results.convnet`` and the prototype score under ``results.nearest-mean``,
value for value. The v1 content key described code that no longer exists, so it is kept under
``migrated_from`` and the track keys are null: a migrated cell is reported stale by ``distrack run
--dry-run`` until it is re-derived.

Version-2 records written before the nearest-mean track got its name hold the same score as track
``prototype`` (protocol ``prototype-random-net-v1``); :func:`rename_prototype_track` moves it, value for value."""

from __future__ import annotations

from typing import Any

from bench.sets.references import is_reference

NEAREST_MEAN_PROTOCOL = "nearest-mean-random-net-v1"
OLD_PROTOTYPE_PROTOCOL = "prototype-random-net-v1"


def _budget(record: dict[str, Any]) -> dict[str, int] | None:
    evaluated, features = record["evaluated_set"], record["features"]
    if evaluated["ipc"] is None:
        return None
    item_bytes = 4 * features["n_mels"] * features["frames"] + 8  # float32 log-mels + an int64 label
    return {"items_per_class": evaluated["ipc"], "stored_bytes": evaluated["num_items"] * item_bytes}


def migrate_v1(record: dict[str, Any]) -> dict[str, Any]:
    """A new version-2 record holding exactly the version-1 record's numbers."""
    if record.get("schema_version") != 1:
        raise ValueError(f"not a version-1 record (schema_version {record.get('schema_version')!r})")
    protocol, results, cost = record["protocol"], record["results"], record["cost"]
    commit = record["environment"].get("git_commit")
    model = {"architecture": "convnet", **protocol["model"]}
    params = {"augment": False, **protocol["params"]}
    acceleration = protocol.get("acceleration") or []
    convnet: dict[str, Any] = {
        "protocol_id": "+".join([protocol["id"], *(["augment"] if params["augment"] else []), *acceleration]),
        "params": params,
        "model": model,
        "key": None,
        "seeds": results["seeds"],
        "metrics": {"test_accuracy": results["test_accuracy"], "validation_accuracy": results["validation_accuracy"]},
        "main_score": "test_accuracy",
        "cost": cost,
        "created_at": record["created_at"],
        "git_commit": commit,
    }
    if acceleration:
        convnet["acceleration"] = acceleration
    tracks = {"convnet": convnet}
    if results.get("prototype_test_accuracy"):
        tracks["nearest-mean"] = {
            "protocol_id": NEAREST_MEAN_PROTOCOL,
            "params": {"seeds": results["seeds"]},
            "model": model,
            "key": None,
            "seeds": results["seeds"],
            "metrics": {"test_accuracy": results["prototype_test_accuracy"]},
            "main_score": "test_accuracy",
            # version 1 timed the prototype score inside the whole evaluation
            "cost": {"wall_seconds": 0.0, "peak_memory_mb": 0.0, "device": cost["device"], "measured": False},
            "created_at": record["created_at"],
            "git_commit": commit,
        }
    evaluated = {k: v for k, v in record["evaluated_set"].items() if k not in ("content_key", "set_metadata_hash")}
    evaluated.update(
        kind="reference" if is_reference(evaluated["technique"]) else "technique",
        content_key=None,
        labels="hard",
        domain="logmel",
        decoder=None,
    )
    budget = _budget(record)
    if budget is not None:
        evaluated["budget"] = budget
    migrated = {k: v for k, v in record.items() if k not in ("protocol", "results", "cost", "evaluated_set")}
    migrated.update(
        schema_version=2,
        evaluated_set=evaluated,
        results=tracks,
        migrated_from={"schema_version": 1, "content_key": record["evaluated_set"].get("content_key")},
    )
    return migrated


def rename_prototype_track(record: dict[str, Any]) -> bool:
    """Rename an early version-2 record's ``prototype`` track to ``nearest-mean`` in place (so "prototype" names
    only the technique); True when it changed. The numbers are not touched: the two are one computation."""
    results = record.get("results", {})
    old = results.get("prototype")
    if record.get("schema_version") != 2 or old is None or old.get("protocol_id") != OLD_PROTOTYPE_PROTOCOL:
        return False
    if "nearest-mean" in results:
        raise ValueError("the record holds both a prototype and a nearest-mean track")
    record["results"] = {("nearest-mean" if name == "prototype" else name): entry for name, entry in results.items()}
    old["protocol_id"] = NEAREST_MEAN_PROTOCOL
    return True
