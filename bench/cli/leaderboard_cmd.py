"""``distrack leaderboard``: build the Markdown leaderboard (or CSV/JSON exports) from result records."""

from __future__ import annotations

from pathlib import Path

import click

from bench.atomic import write_json_atomic, write_text_atomic
from bench.leaderboard.build import build, export, metrics_summary
from bench.leaderboard.collect import group, read_records


@click.group()
def leaderboard() -> None:
    """The leaderboard: tables, plots and sample sounds generated from result records."""


@leaderboard.command("build")
@click.option(
    "--results",
    "results",
    multiple=True,
    type=click.Path(path_type=Path),
    default=[Path("leaderboard/results")],
    show_default=True,
    help="Folder (or file) of result records; repeatable.",
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("leaderboard/README.md"), show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "csv", "json"]),
    default="md",
    show_default=True,
    help="md: the README with plots; csv/json: one row per cell, to --out or stdout ('-').",
)
@click.option(
    "--samples/--no-samples",
    default=False,
    show_default=True,
    help="Re-render sample sounds from the distilled sets (needs the sets and their cached features).",
)
@click.option(
    "--cache-root",
    "cache_roots",
    multiple=True,
    type=click.Path(path_type=Path),
    default=[Path("outputs/cache"), Path("cache")],
    show_default=True,
    help="Where to look for cached features when rendering samples; repeatable.",
)
@click.option("--plots/--no-plots", default=True, show_default=True, help="Write accuracy-vs-IPC PNGs.")
@click.option(
    "--metrics",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write a DVC metrics JSON: profile -> dataset -> technique-ipc -> track -> main score.",
)
def build_cmd(
    results: tuple[Path, ...],
    out: Path,
    fmt: str,
    samples: bool,
    cache_roots: tuple[Path, ...],
    plots: bool,
    metrics: Path | None,
) -> None:
    """Validate every record against the schema and regenerate the leaderboard."""
    if fmt != "md":
        text = export(group(read_records(results)), fmt)
        if str(out) == "-" or out == Path("leaderboard/README.md"):
            click.echo(text, nl=False)
        else:
            write_text_atomic(out, text)
        return
    cells = build(results, out, plots=plots, samples=samples, cache_roots=[p for p in cache_roots if p.exists()])
    if metrics is not None:
        write_json_atomic(metrics, metrics_summary(cells))
    click.echo(f"{len(cells)} cell(s) from {sum(len(c.records) for c in cells)} record(s) -> {out}")
