"""Seeing and hearing a set: a spectrogram grid (PNG) and WAVs of its items.

Log-mel items are inverted with Griffin-Lim (phase is estimated); waveform-domain items are written as they
are, so a waveform set is heard exactly as it trains. Factorised sets are decoded first. Used by
`distrack invert`, by the MLflow artefacts of each cell and by the leaderboard's sample sounds."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
import torch

from bench.atomic import atomic_path
from bench.features.logmel import logmel_to_waveform
from bench.features.store import FeatureSet
from bench.sets.files import LabelledSet
from bench.sets.items import training_items


def _members(y: torch.Tensor, label: int, per_class: int) -> torch.Tensor:
    return (y == label).nonzero().flatten()[:per_class]


@torch.no_grad()
def write_wavs(
    feats: FeatureSet, labelled: LabelledSet, out_dir: Path, per_class: int = 1, iterations: int = 64
) -> list[Path]:
    """One WAV per item (up to ``per_class`` per class), named ``<dataset>_<label>_<class>_<k>.wav``."""
    items = training_items(labelled, feats.params, feats.mean, feats.std)
    written = []
    for label, name in enumerate(feats.class_names):
        if labelled.domain == "waveform":
            members = _members(labelled.y, label, per_class)
            waves = labelled.x[members].float()
            waves = 0.9 * waves / waves.abs().amax(dim=-1, keepdim=True).clamp_min(1e-9)
        else:
            members = _members(items.y, label, per_class)
            waves = logmel_to_waveform(feats.denormalise(items.x[members]), feats.params, n_iter=iterations)
        for k, wave in enumerate(waves):
            target = out_dir / f"{feats.dataset}_{label}_{name.replace(' ', '_')}_{k}.wav"
            with atomic_path(target) as tmp:
                sf.write(str(tmp), wave.numpy(), feats.params.sample_rate, format="WAV", subtype="PCM_16")
            written.append(target)
    return written


@torch.no_grad()
def write_spectrogram_grid(
    feats: FeatureSet, labelled: LabelledSet, target: Path, title: str = "", metadata: dict[str, str] | None = None
) -> Path:
    """Classes as columns, the first items of each class as rows, in the dataset's normalised units;
    ``metadata``: extra PNG text chunks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = training_items(labelled, feats.params, feats.mean, feats.std)
    per_class = int(torch.bincount(items.y).max()) if items.y.numel() else 0
    rows = max(1, min(per_class, 4))
    cols = feats.num_classes
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.25 * rows + 0.5), squeeze=False)
    for label, name in enumerate(feats.class_names):
        members = _members(items.y, label, rows)
        for row in range(rows):
            ax = axes[row][label]
            ax.set_xticks([])
            ax.set_yticks([])
            if row < len(members):
                ax.imshow(items.x[members[row], 0].numpy(), origin="lower", aspect="auto", cmap="magma")
            else:
                ax.axis("off")
            if row == 0:
                ax.set_title(name, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(target) as tmp:
        # A fixed software tag keeps the PNG byte-identical across runs (no timestamp in the metadata).
        fig.savefig(tmp, format="png", dpi=80, metadata={"Software": "distrackted", **(metadata or {})})
    plt.close(fig)
    return target
