"""``distrack tracks`` and ``distrack models``: the registered evaluation tracks, reference rows and networks."""

from __future__ import annotations

import dataclasses
import json

import click
from tabulate import tabulate

from bench.cli.context import Session, pass_session
from bench.evaluation.tracks import TRACKS
from bench.evaluation.tracks.configure import build_track
from bench.models import MODELS
from bench.sets.references import REFERENCES


def _shown(value: object) -> str:
    """A mapping parameter (cross-arch's pool) by its names; the rest as they are."""
    return "[" + ", ".join(map(str, value)) + "]" if isinstance(value, dict) else str(value)


def _source(registry, name: str) -> str:
    return "plug-in" if registry.is_plugin(name) else "built-in"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output with every parameter.")
@click.option("--dataset", "-d", default=None, help="Show the values for this dataset (tracks.<name>.by_dataset).")
@pass_session
def tracks(session: Session, as_json: bool, dataset: str | None) -> None:
    """Every registered evaluation track (built-in and plug-in) with its protocol id and parameters for the
    active profile, then the reference rows every track scores like a distilled set."""
    rows = []
    for name in TRACKS.names():
        track = build_track(session, name, dataset=dataset)
        rows.append(
            {
                "name": name,
                "kind": "track",
                "protocol_id": track.protocol(),
                "description": track.description,
                "requires": list(track.requires),
                "source": _source(TRACKS, name),
                "params": dataclasses.asdict(track.params),
            }
        )
    for name in REFERENCES.names():
        cls = REFERENCES.get(name)
        rows.append(
            {
                "name": name,
                "kind": "reference",
                "protocol_id": "-",
                "description": cls.description + ("" if cls.per_ipc else " (one row per dataset)"),
                "requires": [],
                "source": _source(REFERENCES, name),
                "params": {},
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    table = [
        [
            r["name"],
            r["kind"],
            r["protocol_id"],
            r["description"],
            ", ".join(f"{k}={_shown(v)}" for k, v in r["params"].items()) or "-",
            r["source"],
        ]
        for r in rows
    ]
    headers = ["name", "kind", "protocol", "what", f"parameters ({session.profile.name})", "source"]
    click.echo(tabulate(table, headers=headers, maxcolwidths=[None, None, None, 40, 50, None]))


@click.command()
def models() -> None:
    """Every registered network family (built-in and plug-in) with its parameters and defaults."""
    table = []
    for name in MODELS.names():
        cls = MODELS.get(name)
        defaults = [f"{f.name}={f.default}" for f in dataclasses.fields(cls.Params)]
        table.append([name, cls.description, ", ".join(defaults) or "-", _source(MODELS, name)])
    click.echo(tabulate(table, headers=["model", "what", "parameters", "source"], maxcolwidths=[None, 50, 50, None]))
