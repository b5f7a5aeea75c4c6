"""``distrack run``: the sweep over params.yaml's grid."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from tabulate import tabulate

from bench.cli.context import Session, outputs_option, pass_session, results_option
from bench.cli.evaluate_cmd import accelerate_option
from bench.errors import UserError
from bench.evaluation.acceleration import Acceleration
from bench.evaluation.tracks import track_names
from bench.params import load_params
from bench.pipeline.executors import EXECUTORS, SlurmOptions, run_cells
from bench.pipeline.grid import GridCell, expand, load_grid, parse_only, select
from bench.pipeline.runner import (
    STAGES,
    CellOutcome,
    SweepSettings,
    cell_state,
    make_stage_folders,
    parse_track_ipc,
    preflight,
    sweep_session,
)
from bench.provenance import git_commit

# The shift track (ten corruptions, test-time adaptation) is scored at IPC 10 only: that keeps its added time
# under a fifth of the quick grid's (README, "What the grid costs"). dvc.yaml's `sweep.track_ipc` says the same.
DEFAULT_TRACK_IPC = ("shift=10",)


def _line(outcome: CellOutcome) -> str:
    cell = outcome.cell
    head = f"{cell.dataset} {cell.slug}: {outcome.status}"
    if outcome.test_mean is not None:
        head += f", test {outcome.test_mean:.3f} ± {outcome.test_std:.3f}"
    if outcome.seconds:
        head += f" ({outcome.seconds:.1f} s)"
    return f"{head} — {outcome.message}" if outcome.status == "failed" else head


@click.command("run")
@click.option(
    "--grid",
    "grid_path",
    type=click.Path(path_type=Path),
    default=None,
    help="A file whose `grid:` section to run instead of --params' (every other setting still comes from --params).",
)
@click.option(
    "--only",
    multiple=True,
    metavar="KEY=V[,KEY=V]",
    help="Run a slice, e.g. technique=dm,dataset=fsdd; '+' joins values (ipc=1+10).",
)
@click.option(
    "--track-ipc",
    multiple=True,
    metavar="TRACK=IPC[+IPC]",
    default=DEFAULT_TRACK_IPC,
    show_default=True,
    help="Score sets with TRACK only at these IPC values (repeatable), e.g. shift=10; other IPC values keep "
    "the results they already have. The default is the board's (dvc.yaml passes the same), so a plain "
    "`distrack run --dry-run` and `dvc repro` agree on what is up to date.",
)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="local",
    show_default=True,
    help="local: this machine; submitit-local: submitit subprocesses; slurm: a Slurm job array.",
)
@click.option(
    "--jobs",
    "-j",
    type=int,
    default=1,
    show_default=True,
    help="Cells at once (processes, or the Slurm array's parallelism).",
)
@click.option(
    "--stage",
    type=click.Choice(STAGES),
    default="all",
    show_default=True,
    help="Distil only, evaluate existing sets only, or both.",
)
@click.option("--dry-run", is_flag=True, help="List the cells and whether each is up to date; run nothing.")
@outputs_option("Where distilled sets (and checkpoints) go.")
@results_option("Where result records go.")
@click.option(
    "--tracking/--no-tracking",
    default=True,
    show_default=True,
    help="Log to MLflow (MLFLOW_TRACKING_URI, default sqlite:///mlflow.db).",
)
@click.option("--experiment", default="distrackted", show_default=True, help="MLflow experiment name.")
@click.option(
    "--sweep", default=None, help="Parent run name; runs with the same name share one parent [default: a timestamp]."
)
@click.option(
    "--checkpoint-every", type=int, default=10, show_default=True, help="Distillation iterations between checkpoints."
)
@click.option(
    "--validation-checks",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="Times per distillation to score the current set on the VALIDATION split (one short network; "
    "logged to MLflow as distill_validation_accuracy). 0: never.",
)
@accelerate_option
@click.option("--slurm-partition", default=None, help="Slurm partition (executor slurm).")
@click.option("--gpus-per-job", type=int, default=0, show_default=True, help="GPUs per Slurm job.")
@click.option("--cpus-per-job", type=int, default=4, show_default=True, help="CPUs per Slurm job.")
@click.option(
    "--timeout-min",
    type=int,
    default=240,
    show_default=True,
    help="Per-job time limit; preempted or timed-out jobs are requeued and resume.",
)
@pass_session
def run(
    session: Session,
    grid_path: Path | None,
    only: tuple[str, ...],
    track_ipc: tuple[str, ...],
    executor: str,
    jobs: int,
    stage: str,
    dry_run: bool,
    outputs: Path,
    results: Path,
    tracking: bool,
    experiment: str,
    sweep: str | None,
    checkpoint_every: int,
    validation_checks: int,
    accelerate: str,
    slurm_partition: str | None,
    gpus_per_job: int,
    cpus_per_job: int,
    timeout_min: int,
) -> None:
    """Distil every cell of the grid (datasets x techniques and reference rows x IPC x seeds) and score it
    with every track of the grid.

    A set is reused while its content key (code, data, features, network, technique params, cell) is
    unchanged, and each track's result while its own key (the set's, the track's params, recipe and code) is:
    changing the protocol re-runs evaluation only, adding a track evaluates only that track. An interrupted
    distillation continues from its checkpoint. Writes are atomic: Ctrl-C or a kill never leaves a
    half-written set or record.
    """
    grid = load_grid(load_params(grid_path or session.params_file))  # every other setting comes from --params
    cells = select(expand(grid), parse_only(only))
    if not cells:
        raise UserError("--only selects no cell of the grid")
    settings = SweepSettings.for_session(
        session,
        session.params_file,
        session.profile_name or grid.profile,
        outputs,
        results,
        tracks=grid.tracks,
        track_ipc=parse_track_ipc(track_ipc, track_names()),
        stage=stage,
        checkpoint_every=checkpoint_every,
        validation_checks=validation_checks,
        acceleration=",".join(Acceleration.parse(accelerate).names()),
        progress=session.progress and jobs == 1 and executor == "local",
    )
    if dry_run:
        state_session = settings.session()
        rows = [
            [
                c.dataset,
                c.technique,
                "all" if c.ipc is None else c.ipc,
                c.seed,
                cell_state(state_session, settings, c).label,
            ]
            for c in cells
        ]
        click.echo(tabulate(rows, headers=["dataset", "technique", "ipc", "seed", "state"]))
        counts = {label: sum(row[-1] == label for row in rows) for label in sorted({row[-1] for row in rows})}
        click.echo(", ".join(f"{n} {label}" for label, n in counts.items()))
        return
    preflight(settings, cells)  # e.g. the shift track's background sounds: missing, it would fail hours in
    target = None
    if tracking and stage != "distill" and (executor != "local" or _any_work(settings, cells)):
        from bench.pipeline.tracking import open_sweep

        name = sweep or f"sweep-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}"
        target = open_sweep(
            experiment,
            name,
            params={"profile": settings.profile, "cells": len(cells), **{k: str(v) for k, v in vars(grid).items()}},
            tags={"git_commit": git_commit() or "unknown", "profile": str(settings.profile), "executor": executor},
        )
    click.echo(f"{len(cells)} cell(s), profile {settings.profile}, executor {executor}, jobs {jobs}", err=True)
    make_stage_folders(settings, cells)  # after the tracking server answered: a refused run writes nothing
    done = []

    def report(outcome: CellOutcome) -> None:
        done.append(outcome)
        click.echo(f"[{len(done)}/{len(cells)}] {_line(outcome)}", err=True)

    status = "FAILED"
    try:
        outcomes = run_cells(
            settings,
            cells,
            target,
            executor,
            jobs,
            report,
            SlurmOptions(
                slurm_partition, gpus_per_job, cpus_per_job, timeout_min=timeout_min, folder=str(outputs / "submitit")
            ),
        )
        failed = [o for o in outcomes if o.status == "failed"]
        status = "FAILED" if failed else "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        if target is not None:
            from bench.pipeline.tracking import close_sweep

            close_sweep(target, status)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "up to date", "failed")}
    click.echo(
        ", ".join(f"{n} {s}" for s, n in counts.items())
        + (f"; MLflow parent run {target.parent_run_id}" if target else "")
    )
    if failed:
        raise UserError(f"{len(failed)} cell(s) failed: " + "; ".join(_line(o) for o in failed))


def _any_work(settings: SweepSettings, cells: list[GridCell]) -> bool:
    """Whether some cell has a track to score. When none has, no MLflow run is opened: opening the SQLite store
    costs ~4 s a process, which every `dvc repro` evaluate stage that found its cells up to date used to pay.
    The states come from the sweep's shared session, so the runner loads nothing twice."""
    session = sweep_session(settings)
    try:
        return any(cell_state(session, settings, cell).stale for cell in cells)
    except UserError:
        return True  # the runner reports the cell's problem in its own words
