"""Reading result records for the leaderboard: validate each against the schema, then group them into board
cells (profile, dataset, technique or reference, IPC), whose scores pool every distillation seed's
evaluation runs per track."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.evaluation.records import read_record


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float
    n: int  # evaluation runs pooled (distillation seeds x evaluation seeds)
    sets: int = 1  # distillation seeds (distinct sets)


@dataclass
class BoardCell:
    """Every record of one (profile, dataset, technique, IPC); IPC ``None`` is a reference row without IPC
    (the full training set)."""

    profile: str
    dataset: str
    technique: str
    ipc: int | None
    records: list[dict[str, Any]]
    sources: list[str]

    @property
    def kind(self) -> str:
        return self.records[0]["evaluated_set"].get("kind", "technique")

    @property
    def is_reference(self) -> bool:
        return self.kind == "reference"

    @property
    def off_main(self) -> bool:
        """Smoke runs and dataset subsets made with ``limit_per_class`` never enter the main tables."""
        return self.profile == "smoke" or any("limit_per_class" in r["dataset"]["options"] for r in self.records)

    @property
    def status(self) -> str:
        statuses = {(r.get("submission") or {}).get("status", "suite") for r in self.records}
        return "self-reported" if "self-reported" in statuses else sorted(statuses)[0]

    def tracks(self) -> set[str]:
        return {name for r in self.records for name in r["results"]}

    def entries(self, track: str) -> list[dict[str, Any]]:
        """The track's results, one per distinct set: seeds that produced the same stored tensors (prototype at
        IPC 1 is the class mean whatever the seed) are one set, evaluated twice with the same seeds, and pooling
        both would count the same runs again."""
        seen: set[str] = set()
        found = []
        for record in self.records:
            digest = record["evaluated_set"].get("tensor_sha256")
            if track not in record["results"] or digest in seen:
                continue
            if digest is not None:
                seen.add(digest)
            found.append(record["results"][track])
        return found

    def protocol(self, track: str) -> str | None:
        """The track's protocol id in this cell; records made under different ids never pool."""
        ids = {entry["protocol_id"] for entry in self.entries(track)}
        if len(ids) > 1:
            raise UserError(
                f"{self.dataset} {self.technique} IPC {self.ipc}: records of track {track} mix protocols "
                f"{', '.join(sorted(ids))} ({'; '.join(self.sources)}); re-derive them under one"
            )
        return next(iter(ids), None)

    def score(self, track: str, metric: str | None = None) -> Summary | None:
        """``metric`` (default: the track's main score) pooled over every record's evaluation seeds."""
        self.protocol(track)
        entries = [e for e in self.entries(track) if (metric or e["main_score"]) in e["metrics"]]
        values = [v for e in entries for v in e["metrics"][metric or e["main_score"]]["per_seed"]]
        if not values:
            return None
        std = statistics.pstdev(values) if len(values) > 1 else 0.0
        return Summary(statistics.fmean(values), std, len(values), len(entries))

    def metrics(self, track: str) -> list[str]:
        return sorted({name for e in self.entries(track) for name in e["metrics"]})

    def distill_cost(self) -> dict[str, Any] | None:
        costs = [r["evaluated_set"].get("distill_cost") for r in self.records]
        return costs[0] if costs and costs[0] else None

    def tensor_digests(self) -> set[str]:
        return {r["evaluated_set"].get("tensor_sha256") or "" for r in self.records} - {""}


def read_records(paths: Iterable[Path]) -> list[tuple[str, dict[str, Any]]]:
    """``(source, record)`` for every ``*.json`` under the given folders, in sorted path order."""
    found = []
    for root in paths:
        if not root.exists():
            raise UserError(f"{root}: results folder not found")
        files = sorted(root.rglob("*.json")) if root.is_dir() else [root]
        found.extend((path.as_posix(), read_record(path)) for path in files)
    return found


def group(records: Iterable[tuple[str, dict[str, Any]]]) -> list[BoardCell]:
    by_key: dict[tuple, list[tuple[str, dict]]] = defaultdict(list)
    for source, record in records:
        evaluated = record["evaluated_set"]
        key = (record["profile"], record["dataset"]["name"], evaluated["technique"], evaluated["ipc"])
        by_key[key].append((source, record))
    cells = []
    for key, members in sorted(by_key.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3] or 0)):
        # One record per distilled set: a newer record of the same set (same sha256) replaces an older one.
        latest: dict[str, tuple[str, dict]] = {}
        for source, record in sorted(members, key=lambda m: (m[1]["created_at"], m[0])):
            latest[record["evaluated_set"]["sha256"]] = (source, record)
        chosen = sorted(latest.values(), key=lambda m: m[0])
        cells.append(BoardCell(*key, records=[r for _, r in chosen], sources=[s for s, _ in chosen]))
    return cells
