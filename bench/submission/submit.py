"""``distrack submit``: run one technique over a grid under the fixed protocol and pack a bundle."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from bench.errors import UserError
from bench.evaluation.records import write_record
from bench.hashing import sha256_file
from bench.pipeline.executors import run_cells
from bench.pipeline.grid import GridCell
from bench.pipeline.runner import CellOutcome, SweepSettings
from bench.provenance import environment
from bench.submission.bundle import SELF_REPORTED, Entry, Manifest, write_manifest


def submit(
    settings: SweepSettings,
    technique: str,
    cells: list[GridCell],
    metadata: dict[str, str],
    jobs: int,
    report: Callable[[CellOutcome], None],
) -> Manifest:
    """Distil and evaluate ``cells`` into the bundle at ``settings.outputs`` (sets) and ``settings.results``
    (records), mark every record ``self-reported`` with the metadata, then write the manifest last, so a
    bundle with a manifest is always complete."""
    bundle = Path(settings.outputs)
    failed = [o for o in run_cells(settings, cells, None, "local", jobs, report) if o.status == "failed"]
    if failed:
        raise UserError(
            "no bundle written; failed cells: "
            + "; ".join(f"{o.cell.dataset} {o.cell.slug}: {o.message}" for o in failed)
        )
    profile = settings.session().profile.name
    entries = []
    for cell in cells:
        set_path = cell.set_path(bundle, profile)
        record_path = cell.record_path(Path(settings.results), profile)
        record = json.loads(record_path.read_text(encoding="utf-8"))
        record["evaluated_set"]["source"] = str(set_path.relative_to(bundle))
        record["submission"] = {"status": SELF_REPORTED, **metadata}
        write_record(record_path, record)
        entries.append(
            Entry(
                dataset=cell.dataset,
                ipc=cell.ipc,
                seed=cell.seed,
                set=str(set_path.relative_to(bundle)),
                set_sha256=sha256_file(set_path),
                record=str(record_path.relative_to(bundle)),
            )
        )
    env = environment()
    manifest = Manifest(
        technique=technique,
        profile=profile,
        metadata=metadata,
        suite={"version": env["suite_version"], "git_commit": env["git_commit"]},
        entries=entries,
    )
    write_manifest(bundle, manifest)
    return manifest
