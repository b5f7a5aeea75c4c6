"""Reference sets every technique is compared against: a random real subset at the same IPC (the
baseline) and the full training set (the upper bound)."""

from __future__ import annotations

import torch

from bench.errors import UserError
from bench.evaluation.sets import LabelledSet
from bench.features.store import FeatureSet


def check_ipc(features: FeatureSet, ipc: int) -> None:
    if ipc < 1:
        raise UserError(f"--ipc must be at least 1, got {ipc}")
    counts = torch.bincount(features.train.y, minlength=features.num_classes)
    short = [(features.class_names[c], int(n)) for c, n in enumerate(counts) if n < ipc]
    if short:
        listed = ", ".join(f"{name} ({n})" for name, n in short)
        raise UserError(f"--ipc {ipc} exceeds the training examples of {features.dataset} class(es): {listed}")


def random_real_subset(features: FeatureSet, ipc: int, seed: int) -> LabelledSet:
    """``ipc`` training items per class drawn without replacement, reproducibly from ``seed``."""
    check_ipc(features, ipc)
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(features.num_classes):
        members = torch.nonzero(features.train.y == c).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:ipc]])
    index = torch.cat(chosen)
    return LabelledSet(
        features.train.x[index].clone(),
        features.train.y[index].clone(),
        metadata={"technique": "random", "ipc": ipc, "seed": seed},
    )


def full_training_set(features: FeatureSet) -> LabelledSet:
    return LabelledSet(features.train.x, features.train.y, metadata={"technique": "full"})
