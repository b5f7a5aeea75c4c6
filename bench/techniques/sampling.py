"""Drawing real examples per class, reproducibly, from tensors already on the device."""

from __future__ import annotations

import torch

from bench.errors import UserError
from bench.features.store import TrainingSplits
from bench.sets.references import random_real_subset


class ClassSampler:
    """Per-class index lists computed once; batches are gathered by index on the device."""

    def __init__(self, train_set: TrainingSplits, device: torch.device) -> None:
        self.train_set = train_set
        self.x = train_set.train.x.to(device)
        self.y = train_set.train.y.to(device)
        self.num_classes = train_set.num_classes
        self.members = [torch.nonzero(train_set.train.y == c).flatten() for c in range(self.num_classes)]

    def indices(self, c: int, n: int, generator: torch.Generator) -> torch.Tensor:
        pool = self.members[c]
        if n >= len(pool):
            return pool[torch.randperm(len(pool), generator=generator)]
        return pool[torch.randperm(len(pool), generator=generator)[:n]]

    def class_batch(self, c: int, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.x[self.indices(c, n, generator).to(self.x.device)]

    def per_class(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` real items of every class, concatenated in class order, with their labels."""
        index = torch.cat([self.indices(c, n, generator) for c in range(self.num_classes)]).to(self.x.device)
        return self.x[index], self.y[index]

    def initial(self, ipc: int, init: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The starting synthetic set, class-major. ``real`` starts from exactly the ``random`` baseline's
        subset for the same seed, so a technique's gain over that baseline is its own doing."""
        if init not in ("real", "noise"):
            raise UserError(f"init: expected 'real' or 'noise', got {init!r}")
        subset = random_real_subset(self.train_set, ipc, seed)
        x, y = subset.x, subset.y
        if init == "noise":
            x = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
        return x.to(self.x.device).clone(), y.to(self.x.device).clone()
