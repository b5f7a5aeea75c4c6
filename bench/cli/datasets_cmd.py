"""``distrack datasets``: list what is registered and present, fetch what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import click
from tabulate import tabulate

from bench.cli.context import Session, pass_session
from bench.data.fetch import fetch as fetch_dataset
from bench.data.fetch import materialise
from bench.data.registry import dataset_names
from bench.errors import DataError


@click.group()
def datasets() -> None:
    """Registered datasets: list them, fetch them."""


@datasets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_session
def list_datasets(session: Session, as_json: bool) -> None:
    """Every registered dataset: classes, clips per split, and whether its data is present."""
    rows = []
    for name in dataset_names():
        adapter = session.dataset(name)
        entry = {
            "name": name,
            "dir": str(adapter.root) if adapter.root else "(generated)",
            "present": adapter.is_present(),
            "description": adapter.info.description,
        }
        if entry["present"]:
            try:
                index = adapter.index()
            except DataError as exc:
                entry.update(present=False, problem=str(exc))
            else:
                counts = index.counts()
                entry.update(
                    classes=index.class_names,
                    subset=index.subset_note,
                    **{split: sum(per_class) for split, per_class in counts.items()},
                )
                if adapter.ignored:
                    entry["ignored"] = dict(adapter.ignored)
        rows.append(entry)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = []
    for row in rows:
        classes = row.get("classes")
        shown = f"{len(classes)}: {', '.join(classes[:4])}{', ...' if len(classes) > 4 else ''}" if classes else "-"
        status = "yes" if row["present"] else ("broken" if "problem" in row else "no")
        table.append(
            [
                row["name"],
                status,
                shown,
                row.get("train", "-"),
                row.get("validation", "-"),
                row.get("test", "-"),
                row["dir"],
            ]
        )
    click.echo(tabulate(table, headers=["dataset", "present", "classes", "train", "validation", "test", "folder"]))
    for row in rows:
        if "problem" in row:
            click.echo(f"\n{row['name']}: {row['problem']}")
        if "ignored" in row:
            passed = "; ".join(f"{n} {reason}" for reason, n in sorted(row["ignored"].items()))
            click.echo(f"\n{row['name']}: files ignored by the layout: {passed}")


@datasets.command("fetch")
@click.argument("name")
@click.option("--url", default=None, help="Download from this URL instead of the registry's official one.")
@click.option("--sha256", default=None, help="Expected sha256 of the archive (overrides the registry's).")
@click.option("--allow-unpinned", is_flag=True, help="Accept an archive whose checksum is not pinned.")
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Make a complete copy in INTO/NAME (copied from the data root, or downloaded); the DVC fetch stage.",
)
@pass_session
def fetch(
    session: Session, name: str, url: str | None, sha256: str | None, allow_unpinned: bool, into: Path | None
) -> None:
    """Download and verify dataset NAME into the data root, or check the copy already there."""
    adapter = session.dataset(name)
    options = {"url": url, "sha256": sha256, "allow_unpinned": allow_unpinned}
    if into is None:
        target: Path = fetch_dataset(adapter, progress=session.progress, **options)
    else:
        target = materialise(adapter, into / name, progress=session.progress, **options)
        adapter = type(adapter)(target, adapter.options, adapter.limit_per_class)
    index = adapter.index()
    click.echo(f"{name}: {len(index.clips)} clips, {len(index.class_names)} classes at {target}")


@datasets.command("resplit-speechcommands")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
def resplit_speechcommands(source: Path, target: Path) -> None:
    """Copy the 10 keywords of a Speech Commands folder SOURCE to TARGET, re-split by speaker hash
    (how the shared `speech_commands_mini` subset is made from official test-split files)."""
    from bench.data.adapters.speechcommands import resplit_by_speaker

    counts = resplit_by_speaker(source, target)
    click.echo(", ".join(f"{k} {v}" for k, v in counts.items()) + f" -> {target}")
