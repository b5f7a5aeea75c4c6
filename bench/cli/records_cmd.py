"""``distrack records``: result-record maintenance (schema migration)."""

from __future__ import annotations

from pathlib import Path

import click

from bench.atomic import write_json_atomic
from bench.cli.context import Session, outputs_option, pass_session, results_option
from bench.errors import UserError
from bench.evaluation.migrate import migrate_v1, rename_prototype_track
from bench.evaluation.records import load_json, validate_record
from bench.pipeline.rekey import rekey
from bench.pipeline.runner import SweepSettings
from bench.provenance import KEY_DEFINITIONS


@click.group()
def records() -> None:
    """Result records: migrate older schema versions, move keys to the current definition."""


@records.command("migrate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("--check", is_flag=True, help="Only report what would change; exit 1 if any record is version 1.")
def migrate(paths: tuple[Path, ...], check: bool) -> None:
    """Convert schema-version-1 records under PATHS (files or folders) to version 2 in place, atomically.
    The numbers move unchanged: each v1 record's ConvNet results become results.convnet, its prototype score
    results.nearest-mean. Version-2 records from before the nearest-mean track had its name get only the
    track renamed (prototype -> nearest-mean). Other version-2 records are left alone."""
    files = sorted(p for root in paths for p in ([root] if root.is_file() else root.rglob("*.json")))
    migrated, current = [], 0
    for path in files:
        record = load_json(path)
        if record.get("schema_version") == 1:
            converted = migrate_v1(record)
        elif rename_prototype_track(record):  # an early v2 record: only the track's name moves
            converted = record
        else:
            validate_record(record, str(path))
            current += 1
            continue
        validate_record(converted, str(path))
        migrated.append(path)
        if not check:
            write_json_atomic(path, converted)
    verb = "would migrate" if check else "migrated"
    click.echo(f"{verb} {len(migrated)} record(s); {current} already at schema version 2")
    if check and migrated:
        raise SystemExit(1)
    if not files:
        raise UserError(f"no *.json record under {', '.join(map(str, paths))}")


@records.command("rekey")
@results_option("Records to move to the current content-key definition.")
@outputs_option("Where the sweep keeps its sets: their sidecars move along.")
@click.option(
    "--from-definition",
    type=click.Choice([str(v) for v in KEY_DEFINITIONS[:-1]]),
    default=str(KEY_DEFINITIONS[-2]),
    show_default=True,
    help="The definition the records' keys were written with.",
)
@click.option("--check", is_flag=True, help="Only report; write nothing; exit 1 if a record would be re-keyed.")
@pass_session
def rekey_command(session: Session, results: Path, outputs: Path, from_definition: str, check: bool) -> None:
    """Move records to the current content-key definition without recomputing them, after proving each one:
    under its old definition the current code and params must give exactly its keys (nothing that can change
    its numbers changed). Records that fail the proof are listed and left alone (`distrack run` recomputes
    them). Needs the data root, like `distrack run --dry-run`: keys cover the features."""
    if not results.is_dir():
        raise UserError(f"--results {results}: no such folder")
    sessions: dict[str, Session] = {}

    def session_for(profile: str) -> Session:
        if profile not in sessions:
            settings = SweepSettings.for_session(
                session, session.params_file, profile, outputs, results, progress=False
            )
            sessions[profile] = settings.session()
        return sessions[profile]

    report = rekey(results, session_for, int(from_definition), outputs if outputs.is_dir() else None, not check)
    for path, why in report.unproven:
        click.echo(f"left alone: {path}: {why}", err=True)
    verb = "would re-key" if check else "re-keyed"
    click.echo(
        f"{verb} {len(report.rekeyed)} record(s) and {len(report.sidecars)} set sidecar(s); "
        f"{len(report.current)} already current; {len(report.unproven)} left alone"
    )
    if check and report.rekeyed:
        raise SystemExit(1)
