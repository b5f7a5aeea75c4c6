"""Moving committed records to a new content-key definition without recomputing them.

A record is re-keyed only after a proof: under the definition its keys were written with, the current code
and params give exactly its keys (so nothing that can change its numbers has changed since); its keys are then
recomputed under the current definition. A record that fails the proof is left alone and reported: it is stale
under either definition, and ``distrack run`` recomputes it. Set sidecars under ``outputs`` that carry a proven
old set key are moved along, so local sets stay reusable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.atomic import write_json_atomic
from bench.device import cpu_threads
from bench.errors import UserError
from bench.evaluation.records import load_json
from bench.evaluation.tracks.configure import build_track
from bench.pipeline.grid import GridCell
from bench.pipeline.keys import set_key, track_key
from bench.pipeline.reproduce import cell_of, thread_count
from bench.provenance import key_definition
from bench.session import Session


@dataclass
class RekeyReport:
    rekeyed: list[Path] = field(default_factory=list)
    current: list[Path] = field(default_factory=list)  # already under the current definition
    unproven: list[tuple[Path, str]] = field(default_factory=list)  # (record, why)
    sidecars: list[Path] = field(default_factory=list)


def record_keys(session: Session, cell: GridCell, record: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The set key and the record's tracks' keys of ``cell`` under the definition in force, each computed
    with the thread count its part of the record ran with."""
    results = record["results"]
    devices = {name: (entry.get("cost") or {}).get("device") for name, entry in results.items()}
    with cpu_threads(thread_count(next(iter(devices.values()), None) or "")):
        key = set_key(session, cell)
    tracks = {}
    for name in sorted(results):
        with cpu_threads(thread_count(devices[name] or "")):
            tracks[name] = track_key(key, build_track(session, name, dataset=cell.dataset))
    return key, tracks


def rekey(
    results: Path, session_for: Callable[[str], Session], old_definition: int, outputs: Path | None, write: bool
) -> RekeyReport:
    report = RekeyReport()
    for path in sorted(results.rglob("*.json")):
        record = load_json(path)
        if record.get("schema_version") != 2 or "evaluated_set" not in record:
            continue
        if record["evaluated_set"].get("content_key") is None:
            report.unproven.append((path, "no content key (migrated from schema 1 or written outside a sweep)"))
            continue
        try:
            profile, cell = record["profile"], cell_of(record)
            session = session_for(profile)
            tracks = sorted(record["results"])
            stored = (record["evaluated_set"]["content_key"], {t: record["results"][t].get("key") for t in tracks})
            new = record_keys(session, cell, record)
            if new == stored:
                report.current.append(path)
                continue
            with key_definition(old_definition):
                old = record_keys(session, cell, record)
        except UserError as exc:
            report.unproven.append((path, str(exc)))
            continue
        if old != stored:
            differing = ["set"] if old[0] != stored[0] else [t for t in tracks if old[1][t] != stored[1][t]]
            report.unproven.append((path, f"stale under definition {old_definition} too: {', '.join(differing)}"))
            continue
        record["evaluated_set"]["content_key"] = new[0]
        for name in tracks:
            record["results"][name]["key"] = new[1][name]
        report.rekeyed.append(path)
        if write:
            write_json_atomic(path, record)
        if outputs is not None and cell.kind == "technique":
            sidecar_path = cell.set_path(outputs, profile).with_suffix(".json")
            sidecar = load_json(sidecar_path) if sidecar_path.is_file() else {}
            if sidecar.get("content_key") == old[0]:
                report.sidecars.append(sidecar_path)
                if write:
                    write_json_atomic(sidecar_path, {**sidecar, "content_key": new[0]})
    return report
