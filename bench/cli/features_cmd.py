"""``distrack features`` and ``distrack invert``: build the cached log-mels; listen to a set."""

from __future__ import annotations

from pathlib import Path

import click

from bench.cli.context import Session, pass_session
from bench.pipeline.jobs import load_set_for
from bench.samples import write_wavs


@click.command()
@click.argument("dataset")
@click.option("--skip-bad", is_flag=True, help="Skip unreadable audio files (and report how many).")
@pass_session
def features(session: Session, dataset: str, skip_bad: bool) -> None:
    """Extract (or reuse from the cache) the log-mel features of DATASET."""
    session.skip_bad = skip_bad
    feats = session.features(dataset)
    sizes = ", ".join(f"{k} {v}" for k, v in feats.split_sizes().items())
    origin = "cache hit" if feats.from_cache else "extracted"
    click.echo(f"{dataset}: {sizes}; items {feats.shape}; {origin} (key {feats.cache_key[:16]})")
    if feats.skipped:
        click.echo(f"{dataset}: skipped {len(feats.skipped)} unreadable file(s)")


@click.command()
@click.option("--dataset", required=True, help="Dataset whose feature space the set lives in.")
@click.option("--set", "set_path", required=True, type=click.Path(path_type=Path), help="A .safetensors set.")
@click.option("--out-dir", required=True, type=click.Path(path_type=Path), help="Where to write WAV files.")
@click.option("--per-class", default=1, show_default=True, help="Items per class to invert.")
@click.option("--iterations", default=64, show_default=True, help="Griffin-Lim iterations.")
@pass_session
def invert(session: Session, dataset: str, set_path: Path, out_dir: Path, per_class: int, iterations: int) -> None:
    """Turn a set's log-mels back into listenable WAV files (Griffin-Lim; phase is estimated)."""
    feats = session.features(dataset)
    labelled = load_set_for(session, dataset, set_path)
    written = write_wavs(feats, labelled, out_dir, per_class, iterations)
    click.echo(f"wrote {len(written)} WAV file(s) to {out_dir}")
