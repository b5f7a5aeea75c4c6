"""Reference rows: what every technique is compared with, scored by every track like a distilled set.

A reference is a registered class: ``random`` (a random real subset at the same IPC, the baseline) and
``full`` (the whole training split, the upper bound) materialise a set; later kinds that have no set at all
(a zero-shot model, a teacher) return ``None`` and are scored only by tracks that know them. Plug-ins register
through the ``distrackted.references`` entry-point group."""

from __future__ import annotations

import abc
from typing import ClassVar

import torch

from bench.errors import UserError
from bench.registry import Registry
from bench.sets.files import LabelledSet


class Reference(abc.ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""
    per_ipc: ClassVar[bool] = True  # one row per IPC (random), or one row per dataset (full)

    @abc.abstractmethod
    def materialise(self, features, ipc: int | None, seed: int) -> LabelledSet | None:
        """The reference's set for ``features`` (a FeatureSet or its training splits), or None if it has none."""


REFERENCES: Registry[type[Reference]] = Registry(
    "reference", "distrackted.references", "bench.sets.references", Reference
)


# The per-IPC reference every technique's gain is measured against (the board's "gain over random").
BASELINE = "random"


def reference_names() -> list[str]:
    return REFERENCES.names()


def is_reference(name: str) -> bool:
    return name in REFERENCES.names()


def check_ipc(features, ipc: int) -> None:
    if ipc < 1:
        raise UserError(f"--ipc must be at least 1, got {ipc}")
    counts = torch.bincount(features.train.y, minlength=features.num_classes)
    short = [(features.class_names[c], int(n)) for c, n in enumerate(counts) if n < ipc]
    if short:
        listed = ", ".join(f"{name} ({n})" for name, n in short)
        raise UserError(f"--ipc {ipc} exceeds the training examples of {features.dataset} class(es): {listed}")


def random_real_subset(features, ipc: int, seed: int) -> LabelledSet:
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


@REFERENCES.register
class RandomSubset(Reference):
    name = "random"
    description = "random real training items per class (the baseline every technique must beat)"

    def materialise(self, features, ipc: int | None, seed: int) -> LabelledSet:
        if ipc is None:
            raise UserError("the random reference needs an IPC")
        return random_real_subset(features, ipc, seed)


@REFERENCES.register
class FullTrainingSet(Reference):
    name = "full"
    description = "the whole training split (the upper bound)"
    per_ipc = False

    def materialise(self, features, ipc: int | None, seed: int) -> LabelledSet:
        return LabelledSet(features.train.x, features.train.y, metadata={"technique": "full"})
