"""``distrack leaderboard``: build the Markdown leaderboard (or CSV/JSON exports) from result records."""

from __future__ import annotations

from pathlib import Path

import click

from bench.atomic import write_json_atomic, write_text_atomic
from bench.cli.context import Session, pass_session, results_option
from bench.errors import UserError
from bench.evaluation.records import read_record
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


@leaderboard.command("tsne")
@click.option("--dataset", "-d", "datasets", multiple=True, required=True, help="Dataset (repeatable).")
@click.option("--ipc", type=click.IntRange(min=1), default=10, show_default=True, help="IPC of the sets shown.")
@click.option("--embedder", default="yamnet", show_default=True, help="Embedder of the map (see `distrack tracks`).")
@results_option("Records whose sets (seed 0) to show; each record names its set file.")
@click.option("--out-dir", type=click.Path(path_type=Path), default=Path("leaderboard/tsne"), show_default=True)
@pass_session
def tsne(session: Session, datasets: tuple[str, ...], ipc: int, embedder: str, results: Path, out_dir: Path) -> None:
    """t-SNE maps of each dataset's real test embeddings with every technique's set at IPC overlaid (needs the
    sets, the data root and, for yamnet, the models root); `leaderboard build` links the PNGs."""
    from bench.embedders import get_embedder
    from bench.leaderboard.tsne import tsne_png
    from bench.pipeline.jobs import load_set_for

    cls = get_embedder(embedder)
    model = cls(cls.configure(), session.models_root)
    profile = session.profile.name
    for dataset in datasets:
        sets = []
        for path in sorted((results / profile / dataset).glob(f"*/*-ipc{ipc}-seed0.json")):
            record = read_record(path)
            source = record["evaluated_set"].get("source") or ""
            if record["evaluated_set"]["kind"] == "technique" and Path(source).is_file():
                sets.append((record["evaluated_set"]["technique"], load_set_for(session, dataset, Path(source))))
        if not sets:
            raise UserError(f"no technique set at IPC {ipc} for {dataset} under {results / profile} (distil first)")
        target = out_dir / f"{profile}-{dataset}-ipc{ipc}-{embedder}.png"
        tsne_png(
            session, dataset, model, sets, target, f"{dataset}: {embedder} t-SNE of real test clips, sets at IPC {ipc}"
        )
        click.echo(f"{dataset}: {len(sets)} set(s) -> {target}")
