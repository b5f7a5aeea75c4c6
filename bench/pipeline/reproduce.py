"""Re-deriving committed results: a record's cell is computed afresh in a scratch folder by today's code (its
set distilled or drawn again, the chosen tracks evaluated again, with the record's own torch thread count on a
CPU) and every per-seed number compared with the record's, bit for bit."""

from __future__ import annotations

import dataclasses
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.device import cpu_threads
from bench.evaluation.records import load_json, read_record
from bench.pipeline.grid import GridCell
from bench.pipeline.runner import SweepSettings, run_cell


@dataclass
class Reproduction:
    source: Path
    cell: GridCell
    compared: dict[str, bool] = field(default_factory=dict)  # track -> every per-seed number equal
    set_equal: bool | None = None  # stored tensors equal (None: the record has no tensor digest)
    problem: str = ""

    @property
    def matches(self) -> bool:
        return not self.problem and all(self.compared.values()) and self.set_equal is not False


def thread_count(device: str) -> int | None:
    found = re.match(r"cpu \((\d+) threads?\)", device)
    return int(found[1]) if found else None


def cell_of(record: dict[str, Any]) -> GridCell:
    evaluated = record["evaluated_set"]
    seed = evaluated.get("distill_seed", 0)
    if evaluated["kind"] == "reference" and evaluated.get("source", "").rpartition("seed=")[2].isdigit():
        seed = int(evaluated["source"].rpartition("seed=")[2])
    return GridCell(record["dataset"]["name"], evaluated["technique"], evaluated["ipc"], seed, evaluated["kind"])


def reproduce(settings: SweepSettings, path: Path, tracks: tuple[str, ...] | None = None) -> Reproduction:
    record = read_record(path)
    cell = cell_of(record)
    outcome = Reproduction(path, cell)
    chosen = tuple(tracks or sorted(record["results"]))
    missing = [t for t in chosen if t not in record["results"]]
    if missing:
        outcome.problem = f"the record has no result for {', '.join(missing)}"
        return outcome
    threads = thread_count(record["results"][chosen[0]]["cost"]["device"]) or settings.threads
    with tempfile.TemporaryDirectory(prefix="distrack-reproduce-") as scratch:
        fresh_settings = dataclasses.replace(
            settings,
            outputs=str(Path(scratch) / "outputs"),
            results=str(Path(scratch) / "results"),
            tracks=chosen,
            stage="all",
            validation_checks=0,
            threads=threads,  # a CPU sums in another order with other threads
            profile=record["profile"],
        )
        with cpu_threads(threads):  # and the caller's count is back afterwards
            done = run_cell(fresh_settings, cell)
        if done.status == "failed":
            outcome.problem = done.message
            return outcome
        fresh = load_json(cell.record_path(Path(scratch) / "results", record["profile"]))
    digest = record["evaluated_set"].get("tensor_sha256")
    if digest is not None:
        outcome.set_equal = digest == fresh["evaluated_set"].get("tensor_sha256")
    for track in chosen:
        ours, theirs = fresh["results"][track]["metrics"], record["results"][track]["metrics"]
        outcome.compared[track] = all(ours[m]["per_seed"] == theirs[m]["per_seed"] for m in theirs)
    return outcome
