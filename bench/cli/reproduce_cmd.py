"""``distrack reproduce``: recompute committed cells and compare them with their records, bit for bit."""

from __future__ import annotations

from pathlib import Path

import click
from tabulate import tabulate

from bench.cli.context import Session, pass_session
from bench.pipeline.reproduce import reproduce
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
@pass_session
def reproduce_cmd(session: Session, records: tuple[Path, ...], tracks: tuple[str, ...]) -> None:
    """Re-derive each RECORD from scratch with today's code (distil or draw its set again, evaluate its tracks
    again, with the record's torch thread count) in a scratch folder, and compare every per-seed number with the
    record's. Exits 1 when any differs; nothing in the repository is written."""
    settings = SweepSettings.for_session(
        session, session.params_file, session.profile_name or "quick", Path("unused"), Path("unused")
    )
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
