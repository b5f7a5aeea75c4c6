"""``distrack records``: result-record maintenance (schema migration)."""

from __future__ import annotations

from pathlib import Path

import click

from bench.atomic import write_json_atomic
from bench.errors import UserError
from bench.evaluation.migrate import migrate_v1, rename_prototype_track
from bench.evaluation.records import load_json, validate_record


@click.group()
def records() -> None:
    """Result records: migrate older schema versions."""


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
