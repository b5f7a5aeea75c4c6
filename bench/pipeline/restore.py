"""Getting the distilled sets behind committed records without a DVC remote: each set is distilled again by
today's code in a scratch folder and put where the grid keeps it only when it is the record's set: the same
tensors (the record's ``tensor_sha256``) under the record's content key. The file's bytes can differ from the
ones the record's ``sha256`` names where the record was re-keyed (a set file embeds the key it was made under);
the runner takes either as the record's set (:func:`bench.pipeline.runner.is_records_set`).

A record does not say with how many CPU threads its set was made (a CPU sums gradients in another order with
another count, and the board's sets were made with one or two), so each count of ``threads`` is tried in
turn until one gives the record's bytes."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.atomic import atomic_path
from bench.device import cpu_threads
from bench.evaluation.records import read_record
from bench.pipeline.grid import GridCell
from bench.pipeline.reproduce import cell_of, thread_count
from bench.pipeline.runner import SweepSettings, is_records_set, run_cell


@dataclass
class Restoration:
    source: Path
    cell: GridCell
    status: str  # restored, present, not stored, differs, failed
    detail: str = ""
    target: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("restored", "present", "not stored")


def _copy_atomic(source: Path, target: Path) -> None:
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def restore_set(settings: SweepSettings, path: Path, outputs: Path, threads: tuple[int, ...] = ()) -> Restoration:
    """Put the set ``path`` names under ``outputs`` (the grid's layout), re-derived and checked against the record.
    ``threads``: the CPU thread counts to try, in order (default: the record's evaluation count, then 1)."""
    record = read_record(path)
    cell, evaluated = cell_of(record), record["evaluated_set"]
    if cell.kind != "technique":
        return Restoration(path, cell, "not stored", "a reference row's items are drawn when it is scored")
    target = cell.set_path(outputs, record["profile"])
    if target.is_file() and is_records_set(target, evaluated):
        return Restoration(path, cell, "present", target=target)
    device = next(iter(record["results"].values()), {}).get("cost", {}).get("device", "")
    counts = threads or tuple(dict.fromkeys(c for c in (thread_count(device), 1) if c))
    tried = []
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="distrack-restore-") as scratch:
            fresh_settings = dataclasses.replace(
                settings,
                outputs=str(Path(scratch) / "outputs"),
                results=str(Path(scratch) / "results"),
                tracks=("convnet",),  # the distill stage scores nothing; a cell needs a track to be stale
                stage="distill",
                threads=count,
                profile=record["profile"],
            )
            with cpu_threads(count):
                done = run_cell(fresh_settings, cell)
            if done.status == "failed":
                return Restoration(path, cell, "failed", done.message)
            fresh = cell.set_path(Path(fresh_settings.outputs), record["profile"])
            if is_records_set(fresh, evaluated):
                _copy_atomic(fresh.with_suffix(".json"), target.with_suffix(".json"))
                _copy_atomic(fresh, target)  # the set last: a set file is never there without its sidecar
                return Restoration(path, cell, "restored", f"{count} thread(s)", target)
        tried.append(str(count))
    return Restoration(path, cell, "differs", f"other items with {', '.join(tried)} thread(s)")
