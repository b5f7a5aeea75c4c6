"""``distrack reproduce``: recompute committed cells and compare them with their records, bit for bit."""

from __future__ import annotations

from pathlib import Path

import click
from tabulate import tabulate

from bench.cli.context import Session, pass_session
from bench.errors import UserError
from bench.pipeline.reproduce import reproduce
from bench.pipeline.restore import restore_set
from bench.pipeline.runner import SweepSettings, forget_sweep_sessions


@click.command("reproduce")
@click.argument("records", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--track",
    "tracks",
    multiple=True,
    metavar="NAME",
    help="Only these tracks of each record (repeatable) [default: every track the record holds].",
)
@click.option(
    "--restore-sets",
    "restore_into",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Evaluate nothing: distil each RECORD's set again and keep it under DIR in the grid's layout "
    "(DIR/sets/<profile>/<dataset>/<technique>/) when it is the record's set (its tensors' sha256, under the "
    "record's key), where `dvc pull` would put it; the record's set already there is not recomputed. Usually: "
    "--restore-sets outputs.",
)
@click.option(
    "--threads",
    "thread_counts",
    metavar="N[,N]",
    default="",
    help="With --restore-sets: the CPU thread counts to try in turn [default: the record's, then 1].",
)
@pass_session
def reproduce_cmd(
    session: Session,
    records: tuple[Path, ...],
    tracks: tuple[str, ...],
    restore_into: Path | None,
    thread_counts: str,
) -> None:
    """Re-derive each RECORD from scratch with today's code (distil or draw its set again, evaluate its tracks
    again, with the record's torch thread count) in a scratch folder, and compare every per-seed number with the
    record's. Exits 1 when any differs; nothing in the repository is written.

    With --restore-sets, only the sets are re-derived, and those with the record's tensors under its key are
    kept: the way to get the sets behind the board without access to a DVC remote."""
    settings = SweepSettings.for_session(
        session, session.params_file, session.profile_name or "quick", Path("unused"), Path("unused")
    )
    if restore_into is not None:
        _restore(settings, records, restore_into, _thread_counts(thread_counts))
        return
    rows, differing = [], 0
    try:
        for path in records:
            outcome = reproduce(settings, path, tracks or None)
            same = "yes" if outcome.matches else "NO"
            differing += not outcome.matches
            detail = outcome.problem or ", ".join(f"{t} {'=' if ok else '≠'}" for t, ok in outcome.compared.items())
            set_equal = {None: "-", True: "=", False: "≠"}[outcome.set_equal]
            rows.append([str(path), outcome.cell.slug, set_equal, detail, same])
    finally:
        forget_sweep_sessions()  # the records share one load of each dataset, this command only
    click.echo(tabulate(rows, headers=["record", "cell", "set", "tracks", "bit for bit"]))
    if differing:
        click.echo(f"{differing} of {len(records)} record(s) did not reproduce bit for bit", err=True)
        raise SystemExit(1)


def _thread_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UserError(f"--threads: expected thread counts such as 1,2, got {text!r}") from None
    if any(count < 1 for count in counts):
        raise UserError(f"--threads: thread counts must be at least 1, got {text!r}")
    return counts


def _restore(settings: SweepSettings, records: tuple[Path, ...], into: Path, threads: tuple[int, ...]) -> None:
    rows, failed = [], 0
    try:
        for path in records:
            outcome = restore_set(settings, path, into, threads)
            failed += not outcome.ok
            rows.append([str(path), outcome.cell.slug, outcome.status, outcome.detail])
    finally:
        forget_sweep_sessions()
    click.echo(tabulate(rows, headers=["record", "cell", "set", "detail"]))
    if failed:
        click.echo(f"{failed} of {len(records)} set(s) could not be restored", err=True)
        raise SystemExit(1)
