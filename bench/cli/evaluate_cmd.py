"""``distrack evaluate``: score a set (a file, or a reference row) with one or more evaluation tracks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from bench.cli.context import Session, pass_session, skip_bad_option
from bench.errors import UserError
from bench.evaluation.acceleration import Acceleration
from bench.evaluation.records import main_summary
from bench.evaluation.tracks.configure import DEFAULT_TRACKS, build_track
from bench.hashing import sha256_file
from bench.pipeline.jobs import describe_set, describe_setless, evaluate_to_record, load_set_for, read_sidecar
from bench.sets.files import save_set as write_set
from bench.sets.references import REFERENCES, reference_names
from bench.writable import ensure_writable

accelerate_option = click.option(
    "--accelerate",
    default="none",
    show_default=True,
    metavar="LIST",
    help="Comma list of speed-ups for sequential evaluation: channels_last, bf16 (autocast), compile "
    "(torch.compile), meant for GPUs; chunked (training batches in cache-sized pieces, same gradients up to "
    "float rounding), for CPUs. The convnet track's protocol id names them.",
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
    if len(set(seeds)) != len(seeds):
        raise click.BadParameter(f"seeds must be distinct, got {value!r}", param_hint="--seeds")
    return seeds


@click.command()
@click.option("--dataset", required=True, help="Dataset whose real test split scores the set.")
@click.option(
    "--set",
    "set_path",
    type=click.Path(path_type=Path),
    default=None,
    help="A .safetensors set file (x, y and/or soft labels, optional lr).",
)
@click.option(
    "--reference",
    default=None,
    metavar="NAME",
    help="Evaluate a reference row instead (see `distrack tracks --references`): random (a random real subset "
    "at --ipc), full (the whole training set).",
)
@click.option("--ipc", type=click.IntRange(min=1), default=None, help="Items per class of a per-IPC reference row.")
@click.option("--subset-seed", default=0, show_default=True, help="Seed of the reference subset draw.")
@click.option(
    "--track",
    "tracks",
    multiple=True,
    metavar="NAME",
    help=f"Evaluation track (repeatable; see `distrack tracks`) [default: {', '.join(DEFAULT_TRACKS)}].",
)
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override the protocol's training epochs.")
@click.option("--seeds", default=None, help="Override the evaluation seeds, e.g. 0,1,2,3,4.")
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
@skip_bad_option
@pass_session
def evaluate(
    session: Session,
    dataset: str,
    set_path: Path | None,
    reference: str | None,
    ipc: int | None,
    subset_seed: int,
    tracks: tuple[str, ...],
    epochs: int | None,
    seeds: str | None,
    out: Path | None,
    save_set: Path | None,
    vectorise: str,
    accelerate: str,
    skip_bad: bool,
) -> None:
    """Score a set with evaluation tracks (default: the ConvNet protocol's FINAL-epoch test accuracy, mean ±
    std over seeds, and the nearest-mean score) and write one result record."""
    if (set_path is None) == (reference is None):
        raise UserError(f"give exactly one of --set FILE or --reference {'|'.join(reference_names())}")
    session.skip_bad = skip_bad
    for path, option in ((out, "--out"), (save_set, "--save-set")):
        if path is not None:
            ensure_writable(path, option)
    acceleration = Acceleration.parse(accelerate)
    protocol = session.profile.protocol
    overrides = {k: v for k, v in (("epochs", epochs), ("seeds", _parse_seeds(seeds))) if v is not None}
    if overrides:
        protocol = dataclasses.replace(protocol, **overrides)
    chosen = [
        build_track(session, name, dataset=dataset, protocol=protocol, vectorise=vectorise, acceleration=acceleration)
        for name in tracks or DEFAULT_TRACKS
    ]
    if set_path is not None:
        labelled = load_set_for(session, dataset, set_path)
        technique = str(labelled.metadata.get("technique", "file"))
        evaluated = describe_set(
            labelled,
            kind="file",
            technique=technique,
            digest=sha256_file(set_path),
            source=str(set_path),
            sidecar=read_sidecar(set_path),
        )
    else:
        kind = REFERENCES.get(str(reference))
        if kind.per_ipc and ipc is None:
            raise UserError(f"--reference {reference} needs --ipc")
        labelled = kind().materialise(session.features(dataset), ipc if kind.per_ipc else None, subset_seed)
        technique = str(reference)
        if labelled is None:  # a row with no set (zero-shot): only tracks that know such rows score it
            chosen = [track for track in chosen if track.supports(None)]
            if not chosen:
                raise UserError(f"reference {reference!r} has no set; none of the chosen tracks scores it here")
            evaluated = describe_setless(technique, f"reference:{reference}", None)
        else:
            evaluated = describe_set(
                labelled,
                kind="reference",
                technique=technique,
                source=f"reference:{reference}:seed={subset_seed}",
                per_ipc=kind.per_ipc,
            )
    if save_set is not None:
        if labelled is None:
            raise UserError(f"--save-set: reference {reference!r} has no set to save")
        write_set(save_set, labelled)
    label = evaluated["ipc"] or "all"
    out = out or Path("outputs") / "records" / dataset / f"{technique}-ipc{label}-{session.profile.name}.json"
    record = evaluate_to_record(session, dataset, labelled, out, chosen, evaluated)
    parts = []
    for name, entry in record["results"].items():
        main = main_summary(record, name)
        assert main is not None
        parts.append(f"{name} {main['mean']:.3f} ± {main['std']:.3f} ({len(entry['seeds'])} seeds)")
    seconds = sum(entry["cost"]["wall_seconds"] for entry in record["results"].values())
    click.echo(f"{dataset} {technique} ipc={label}: {'; '.join(parts)}; {seconds:.1f} s; record {out}")
