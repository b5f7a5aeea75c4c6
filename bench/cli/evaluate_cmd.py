"""``distrack evaluate``: score a set (a file, or a reference set) under the fixed protocol."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from bench.cli.context import Session, pass_session
from bench.errors import UserError
from bench.evaluation.acceleration import Acceleration
from bench.evaluation.references import full_training_set, random_real_subset
from bench.evaluation.sets import load_set
from bench.evaluation.sets import save_set as write_set
from bench.hashing import sha256_file
from bench.pipeline.cells import evaluate_to_record

accelerate_option = click.option(
    "--accelerate",
    default="none",
    show_default=True,
    metavar="LIST",
    help="Comma list of speed-ups for sequential evaluation: channels_last, bf16 (autocast), compile "
    "(torch.compile), meant for GPUs; chunked (training batches in cache-sized pieces, same gradients up to "
    "float rounding), for CPUs. The record lists them under protocol.acceleration.",
)


def _parse_seeds(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        seeds = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}", param_hint="--seeds") from None
    if not seeds:
        raise click.BadParameter("at least one seed is needed", param_hint="--seeds")
    return seeds


@click.command()
@click.option("--dataset", required=True, help="Dataset whose real test split scores the set.")
@click.option(
    "--set",
    "set_path",
    type=click.Path(path_type=Path),
    default=None,
    help="A .safetensors set file (x, y, optional lr).",
)
@click.option(
    "--reference",
    type=click.Choice(["random", "full"]),
    default=None,
    help="Evaluate a reference set instead: a random real subset at --ipc, or the full training set.",
)
@click.option("--ipc", type=int, default=None, help="Items per class of the random reference subset.")
@click.option("--subset-seed", default=0, show_default=True, help="Seed of the random reference subset draw.")
@click.option("--epochs", type=int, default=None, help="Override the profile's training epochs.")
@click.option("--seeds", default=None, help="Override the evaluation seeds, e.g. 0,1,2,3,4.")
@click.option(
    "--prototype/--no-prototype",
    default=True,
    show_default=True,
    help="Also run the nearest-class-mean evaluation in a random ConvNet's embedding.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Result record path [default outputs/records/<dataset>/<technique>-ipc<k>-<profile>.json].",
)
@click.option("--save-set", type=click.Path(path_type=Path), default=None, help="Also save the reference set here.")
@click.option(
    "--vectorise",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="Train the seeds together with torch.func (auto: on CUDA when memory allows; same accuracies).",
)
@accelerate_option
@pass_session
def evaluate(
    session: Session,
    dataset: str,
    set_path: Path | None,
    reference: str | None,
    ipc: int | None,
    subset_seed: int,
    epochs: int | None,
    seeds: str | None,
    prototype: bool,
    out: Path | None,
    save_set: Path | None,
    vectorise: str,
    accelerate: str,
) -> None:
    """Train fresh ConvNets on a set and report FINAL-epoch test accuracy (mean ± std over seeds)."""
    if (set_path is None) == (reference is None):
        raise UserError("give exactly one of --set FILE or --reference random|full")
    if reference == "random" and ipc is None:
        raise UserError("--reference random needs --ipc")
    acceleration = Acceleration.parse(accelerate)
    protocol = session.profile.protocol
    overrides = {k: v for k, v in (("epochs", epochs), ("seeds", _parse_seeds(seeds))) if v is not None}
    if overrides:
        protocol = dataclasses.replace(protocol, **overrides)
    feats = session.features(dataset)
    if set_path is not None:
        labelled = load_set(set_path, shape=feats.shape, num_classes=feats.num_classes)
        technique, digest, source = None, sha256_file(set_path), str(set_path)
    elif reference == "random":
        labelled = random_real_subset(feats, ipc, subset_seed)  # type: ignore[arg-type]
        technique, digest, source = "random", None, f"reference:random:seed={subset_seed}"
    else:
        labelled = full_training_set(feats)
        technique, digest, source = "full", None, "reference:full"
    if save_set is not None:
        write_set(save_set, labelled)
    technique = technique or str(labelled.metadata.get("technique", "file"))
    set_ipc = None if technique == "full" else labelled.ipc
    default_name = f"{technique}-ipc{set_ipc or 'all'}-{session.profile.name}.json"
    out = out or Path("outputs") / "records" / dataset / default_name
    record, result = evaluate_to_record(
        session,
        dataset,
        labelled,
        out,
        protocol=protocol,
        technique=technique,
        digest=digest,
        source=source,
        prototype=prototype,
        vectorise=vectorise,
        acceleration=acceleration,
    )
    proto = record["results"]["prototype_test_accuracy"]
    line = (
        f"{dataset} {technique} ipc={set_ipc or 'all'}: test {result.test_mean:.3f} ± {result.test_std:.3f} "
        f"({len(result.seeds)} seeds), validation {result.validation_mean:.3f}"
    )
    if proto is not None:
        line += f", prototype {proto['mean']:.3f} ± {proto['std']:.3f}"
    click.echo(f"{line}; {result.wall_seconds:.1f} s; record {out}")
