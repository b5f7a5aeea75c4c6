"""``distrack distill``, ``distrack experts`` and ``distrack techniques``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click
from tabulate import tabulate

from bench.cli.context import Session, pass_session, skip_bad_option
from bench.pipeline.jobs import distill_to_file
from bench.techniques import get_technique, technique_names
from bench.techniques.configure import technique_overrides
from bench.writable import ensure_writable


@click.command()
@click.option("--technique", "-t", required=True, help="Technique name (see `distrack techniques`).")
@click.option("--dataset", "-d", required=True, help="Dataset to distil.")
@click.option("--ipc", type=int, required=True, help="Items per class in the distilled set.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw of the run.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output .safetensors file.")
@click.option("--iterations", type=int, default=None, help="Override the technique's iteration budget.")
@click.option("--param", "pairs", multiple=True, metavar="KEY=VALUE", help="Override a technique parameter.")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint beside --out, if any.")
@click.option(
    "--checkpoint-every",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Iterations between checkpoints.",
)
@skip_bad_option
@pass_session
def distill(
    session: Session,
    technique: str,
    dataset: str,
    ipc: int,
    seed: int,
    out: Path,
    iterations: int | None,
    pairs: tuple[str, ...],
    resume: bool,
    checkpoint_every: int,
    skip_bad: bool,
) -> None:
    """Distil DATASET into IPC items per class; write the set and a sidecar JSON atomically."""
    session.skip_bad = skip_bad
    ensure_writable(out, "--out")
    sidecar = distill_to_file(
        session,
        technique,
        dataset,
        ipc,
        seed,
        out,
        pairs=pairs,
        iterations=iterations,
        resume=resume,
        checkpoint_every=checkpoint_every,
    )
    history, cost = sidecar["loss_history"], sidecar["cost"]
    last = f", final loss {history[-1]:.4g}" if history else ""
    click.echo(
        f"{technique} {dataset} ipc={ipc} seed={seed}: {cost['wall_seconds']:.1f} s "
        f"({cost['iterations']} iterations{last}) -> {out}"
    )


@click.command()
@click.option("--dataset", "-d", required=True, help="Dataset whose training split the experts learn.")
@click.option("--param", "pairs", multiple=True, metavar="KEY=VALUE", help="Override an mtt parameter.")
@pass_session
def experts(session: Session, dataset: str, pairs: tuple[str, ...]) -> None:
    """Train (or reuse) the expert trajectories of DATASET for mtt and datm (as `distrack artefacts build experts`)."""
    from bench.cli.artefacts_cmd import build_experts

    for line in build_experts(session, dataset, pairs):
        click.echo(line)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output with every parameter.")
@click.option(
    "--dataset",
    "-d",
    default=None,
    help="Show the values for this dataset (params.yaml by_dataset; by_profile follows --profile).",
)
@pass_session
def techniques(session: Session, as_json: bool, dataset: str | None) -> None:
    """Every registered technique (built-in and plug-in) with its parameters for the active profile."""
    rows = []
    for name in technique_names():
        cls = get_technique(name)
        params = dataclasses.asdict(
            cls.configure(session.profile.budgets, technique_overrides(session, name, dataset=dataset))
        )
        rows.append({"name": name, "description": cls.description, "module": cls.__module__, "params": params})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = [[r["name"], r["description"], ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "-"] for r in rows]
    click.echo(
        tabulate(
            table, headers=["technique", "what", f"parameters ({session.profile.name})"], maxcolwidths=[None, 40, 60]
        )
    )
