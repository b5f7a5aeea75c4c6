"""Reading result records for the leaderboard: validate each against the schema, then group them into
cells (profile, dataset, technique, IPC)."""

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
    n: int


@dataclass
class Cell:
    """Every record of one (profile, dataset, technique, IPC); IPC ``None`` is the full training set."""

    profile: str
    dataset: str
    technique: str
    ipc: int | None
    records: list[dict[str, Any]]
    sources: list[str]

    @property
    def off_main(self) -> bool:
        """Smoke runs and dataset subsets made with ``limit_per_class`` never enter the main tables."""
        return self.profile == "smoke" or any("limit_per_class" in r["dataset"]["options"] for r in self.records)

    @property
    def status(self) -> str:
        statuses = {(r.get("submission") or {}).get("status", "suite") for r in self.records}
        return "self-reported" if "self-reported" in statuses else sorted(statuses)[0]

    def _pooled(self, field: str) -> Summary | None:
        values = [v for r in self.records if r["results"].get(field) for v in r["results"][field]["per_seed"]]
        if not values:
            return None
        return Summary(statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0, len(values))

    @property
    def test(self) -> Summary:
        summary = self._pooled("test_accuracy")
        assert summary is not None
        return summary

    @property
    def prototype(self) -> Summary | None:
        return self._pooled("prototype_test_accuracy")

    def distill_cost(self) -> dict[str, Any] | None:
        costs = [r["evaluated_set"].get("distill_cost") for r in self.records]
        return costs[0] if costs and costs[0] else None


def read_records(paths: Iterable[Path]) -> list[tuple[str, dict[str, Any]]]:
    """``(source, record)`` for every ``*.json`` under the given folders, in sorted path order."""
    found = []
    for root in paths:
        if not root.exists():
            raise UserError(f"{root}: results folder not found")
        files = sorted(root.rglob("*.json")) if root.is_dir() else [root]
        found.extend((path.as_posix(), read_record(path)) for path in files)
    return found


def group(records: Iterable[tuple[str, dict[str, Any]]]) -> list[Cell]:
    cells: dict[tuple, Cell] = {}
    by_key: dict[tuple, list[tuple[str, dict]]] = defaultdict(list)
    for source, record in records:
        technique = record["evaluated_set"]["technique"]
        ipc = record["evaluated_set"]["ipc"]
        key = (record["profile"], record["dataset"]["name"], technique, ipc)
        by_key[key].append((source, record))
    for key, members in sorted(by_key.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3] or 0)):
        # One record per distilled set: a newer record of the same set (same sha256) replaces an older one.
        latest: dict[str, tuple[str, dict]] = {}
        for source, record in sorted(members, key=lambda m: (m[1]["created_at"], m[0])):
            latest[record["evaluated_set"]["sha256"]] = (source, record)
        chosen = sorted(latest.values())
        cells[key] = Cell(*key, records=[r for _, r in chosen], sources=[s for s, _ in chosen])
    return list(cells.values())
