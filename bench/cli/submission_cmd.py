"""``distrack validate``, ``distrack submit`` and ``distrack verify``: the method-submission flow
(CONTRIBUTING.md walks through it)."""

from __future__ import annotations

from pathlib import Path

import click
from tabulate import tabulate

from bench.cli.context import pass_session
from bench.errors import UserError
from bench.params import load_params
from bench.pipeline.grid import GridCell, load_grid, parse_only, select
from bench.pipeline.runner import CellOutcome, SweepSettings
from bench.session import Session
from bench.submission.validate import FAIL, validate_technique
from bench.techniques import get_technique
from bench.techniques.configure import technique_overrides


@click.command()
@click.argument("technique")
@click.option("--iterations", type=click.IntRange(min=2), default=4, show_default=True, help="Iteration cap per run.")
@click.option("--param", "pairs", multiple=True, metavar="KEY=VALUE", help="Override a technique parameter.")
@pass_session
def validate(session: Session, technique: str, iterations: int, pairs: tuple[str, ...]) -> None:
    """Check TECHNIQUE before a pull request: registration, parameter schema, IPC errors, output shapes
    and labels, no NaN, budget, determinism and resume, on the built-in synthetic dataset (seconds).

    Exits 1 when a check fails."""
    overrides = technique_overrides(session, technique, pairs)
    checks = validate_technique(technique, overrides, iterations)
    click.echo(tabulate([[c.status, c.name, c.detail] for c in checks], headers=["", "check", "detail"]))
    failed = [c.name for c in checks if c.status == FAIL]
    if failed:
        click.echo(f"\n{technique}: {len(failed)} check(s) failed: {', '.join(failed)}", err=True)
        raise SystemExit(1)
    click.echo(f"\n{technique}: all checks passed")


@click.command()
@click.argument("technique")
@click.option(
    "--grid",
    "grid_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Params file whose grid (datasets, IPC, seeds, profile) to run [default: --params].",
)
@click.option("--only", multiple=True, metavar="KEY=V[+V],...", help="Restrict the grid (dataset, ipc, seed).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Bundle folder to write.")
@click.option("--paper", required=True, help="Paper describing the method (URL or citation).")
@click.option("--code-url", required=True, help="Where the technique's code lives.")
@click.option("--licence", required=True, help="Licence of the code and sets, e.g. MIT or CC-BY-4.0.")
@click.option("--jobs", "-j", type=int, default=1, show_default=True, help="Cells run in parallel.")
@pass_session
def submit(
    session: Session,
    technique: str,
    grid_path: Path | None,
    only: tuple[str, ...],
    out: Path,
    paper: str,
    code_url: str,
    licence: str,
    jobs: int,
) -> None:
    """Run TECHNIQUE over the grid's datasets x IPC x seeds with the fixed protocol and write a submission
    bundle: sets, result records marked self-reported, and bundle.json with each set's sha256."""
    from bench.submission.submit import submit as make_bundle

    if (out / "bundle.json").exists():
        raise UserError(f"{out}: already holds a bundle; choose another --out or delete it")
    params_path = grid_path or session.params_file
    grid = load_grid(load_params(params_path))
    get_technique(technique)  # a clear error for a name that is not registered
    grid_cells = [GridCell(d, technique, k, s) for d in grid.datasets for k in grid.ipc for s in grid.seeds]
    cells = select(grid_cells, parse_only(only))
    if not cells:
        raise UserError("--only selects no cell of the grid")
    settings = SweepSettings.for_session(
        session, params_path, session.profile_name or grid.profile, out, out / "records", validation_checks=0
    )

    def report(outcome: CellOutcome) -> None:
        click.echo(f"{outcome.cell.dataset} {outcome.cell.slug}: {outcome.status} {outcome.message}".rstrip(), err=True)

    manifest = make_bundle(
        settings, technique, cells, {"paper": paper, "code_url": code_url, "licence": licence}, jobs, report
    )
    click.echo(f"bundle {out}: {len(manifest.entries)} set(s), records self-reported; check: `distrack verify {out}`")


@click.command()
@click.argument("bundle", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=0.01,
    show_default=True,
    help="Largest accepted |reported - measured| mean test accuracy (re-runs on other hardware differ slightly).",
)
@click.option(
    "--into",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("leaderboard/results/submissions"),
    show_default=True,
    help="Where the verified records go (the leaderboard reads everything under leaderboard/results).",
)
@pass_session
def verify(session: Session, bundle: Path, tolerance: float, into: Path) -> None:
    """Re-evaluate a submission BUNDLE's sets under the protocol; when every reported accuracy matches within
    --tolerance, write the re-measured records marked verified. Refuses tampered sets (sha256), pickles,
    wrong shapes or labels before training anything."""
    from bench.submission.verify import verify_bundle, write_verified

    manifest, verdicts = verify_bundle(session, bundle, tolerance)
    rows = [
        [
            v.entry.dataset,
            v.entry.ipc,
            v.entry.seed,
            f"{v.reported:.4f}",
            f"{v.measured:.4f}",
            "ok" if v.matches(tolerance) else "MISMATCH",
        ]
        for v in verdicts
    ]
    click.echo(tabulate(rows, headers=["dataset", "ipc", "seed", "reported", "measured", ""]))
    mismatched = [v for v in verdicts if not v.matches(tolerance)]
    if mismatched:
        raise UserError(
            f"{len(mismatched)} of {len(verdicts)} reported accuracies differ from the re-evaluation by more "
            f"than {tolerance}; nothing written"
        )
    written = write_verified(manifest, verdicts, tolerance, into)
    click.echo(f"verified: {len(written)} record(s) of {manifest.technique} written under {into}")
