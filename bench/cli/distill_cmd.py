"""``distrack distill``, ``distrack experts`` and ``distrack techniques``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click
import yaml
from tabulate import tabulate

from bench.atomic import write_json_atomic
from bench.cli.context import Session, pass_session
from bench.device import device_description
from bench.errors import UserError
from bench.evaluation.sets import save_set
from bench.techniques import Budget, DistillContext, get_technique, technique_names
from bench.techniques.mtt import TrajectoryMatching


def _overrides(session: Session, technique: str, pairs: tuple[str, ...]) -> dict:
    """params.yaml's ``techniques.<name>`` section, then ``--set-param key=value`` (values parsed as YAML)."""
    merged = dict((session.params.get("techniques") or {}).get(technique) or {})
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--param expects KEY=VALUE, got {pair!r}")
        merged[key] = yaml.safe_load(value)
    return merged


def build_technique(session: Session, name: str, pairs: tuple[str, ...] = (), **context: object):
    cls = get_technique(name)
    params = cls.configure(session.profile.name, _overrides(session, name, pairs))
    return cls(
        params,
        DistillContext(
            model=session.profile.model, profile=session.profile.name, cache_dir=session.cache_dir, **context
        ),
    )  # type: ignore[arg-type]


@click.command()
@click.option("--technique", "-t", required=True, help="Technique name (see `distrack techniques`).")
@click.option("--dataset", "-d", required=True, help="Dataset to distil.")
@click.option("--ipc", type=int, required=True, help="Items per class in the distilled set.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw of the run.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output .safetensors file.")
@click.option("--iterations", type=int, default=None, help="Override the technique's iteration budget.")
@click.option("--param", "pairs", multiple=True, metavar="KEY=VALUE", help="Override a technique parameter.")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint beside --out, if any.")
@click.option("--checkpoint-every", type=int, default=50, show_default=True, help="Iterations between checkpoints.")
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
) -> None:
    """Distil DATASET into IPC items per class; write the set and a sidecar JSON atomically."""
    if out.suffix != ".safetensors":
        raise UserError(f"--out {out}: the set is written as safetensors; use a .safetensors name")
    if checkpoint_every < 1:
        raise UserError("--checkpoint-every must be at least 1")
    checkpoint = out.with_name(out.name + ".ckpt")
    method = build_technique(
        session, technique, pairs, checkpoint_path=checkpoint, checkpoint_every=checkpoint_every, resume=resume
    )
    feats = session.features(dataset)
    result = method.run(feats, ipc, seed, Budget(iterations), session.device, progress=session.progress)
    extra = {
        "dataset": dataset,
        "seed": seed,
        "profile": session.profile.name,
        "feature_key": feats.cache_key,
        "data_hash": feats.data_hash,
        "device": device_description(session.device),
    }
    save_set(out, result.to_labelled(extra))
    sidecar = {
        **extra,
        "technique": technique,
        "ipc": ipc,
        "params": result.params,
        "cost": dataclasses.asdict(result.cost),
        "learned_lr": result.lr,
        "loss_history": result.history,
    }
    write_json_atomic(out.with_suffix(".json"), sidecar)
    checkpoint.unlink(missing_ok=True)
    last = f", final loss {result.history[-1]:.4g}" if result.history else ""
    click.echo(
        f"{technique} {dataset} ipc={ipc} seed={seed}: {len(result.y)} items in "
        f"{result.cost.wall_seconds:.1f} s ({result.cost.iterations} iterations{last}) -> {out}"
    )


@click.command()
@click.option("--dataset", "-d", required=True, help="Dataset whose training split the experts learn.")
@click.option("--param", "pairs", multiple=True, metavar="KEY=VALUE", help="Override an mtt parameter.")
@pass_session
def experts(session: Session, dataset: str, pairs: tuple[str, ...]) -> None:
    """Train (or reuse) the MTT expert trajectories of DATASET."""
    method = build_technique(session, "mtt", pairs)
    assert isinstance(method, TrajectoryMatching)
    store = method.expert_store(session.features(dataset), session.device, session.progress)
    click.echo(f"{len(store.paths())} expert(s), {store.num_epochs()} epochs each, in {store.folder}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output with every parameter.")
@pass_session
def techniques(session: Session, as_json: bool) -> None:
    """Every registered technique (built-in and plug-in) with its parameters for the active profile."""
    rows = []
    for name in technique_names():
        cls = get_technique(name)
        params = dataclasses.asdict(cls.configure(session.profile.name, _overrides(session, name, ())))
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
