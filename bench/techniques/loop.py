"""The optimisation loop shared by iterative techniques, with checkpoints that make ``--resume`` exact.

Every random draw of iteration ``i`` comes from :func:`iteration_seed` (seed, i, stream), never from
state carried between iterations. A checkpoint therefore only needs the synthetic tensors, their
optimiser momentum and the loss history, and a resumed run reproduces an uninterrupted one bit for bit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import safetensors
import torch
from safetensors.torch import load_file, save_file

from bench.atomic import atomic_path
from bench.errors import UserError
from bench.progress import progress_bar


def iteration_seed(seed: int, iteration: int, stream: str = "") -> int:
    digest = hashlib.sha256(f"{seed}/{iteration}/{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def iteration_generator(seed: int, iteration: int, stream: str = "") -> torch.Generator:
    return torch.Generator().manual_seed(iteration_seed(seed, iteration, stream))


@dataclass
class Learnables:
    """The tensors a technique optimises (``x``, maybe ``lr``) and one SGD optimiser per tensor."""

    tensors: dict[str, torch.Tensor]
    optimisers: dict[str, torch.optim.SGD]

    @classmethod
    def create(cls, spec: dict[str, tuple[torch.Tensor, float, float]]) -> Learnables:
        """``spec``: name -> (initial value, learning rate, momentum)."""
        tensors, optimisers = {}, {}
        for name, (value, lr, momentum) in spec.items():
            tensor = value.detach().clone().requires_grad_(True)
            tensors[name] = tensor
            optimisers[name] = torch.optim.SGD([tensor], lr=lr, momentum=momentum)
        return cls(tensors, optimisers)

    def zero_grad(self) -> None:
        for optimiser in self.optimisers.values():
            optimiser.zero_grad(set_to_none=True)

    def step(self) -> None:
        for optimiser in self.optimisers.values():
            optimiser.step()


class Checkpoint:
    """``clock()`` is the run's seconds so far in this process; a checkpoint stores them added to
    ``seconds_before`` (what earlier processes spent, read back by :meth:`restore`), so the cost of a run
    resumed any number of times is the sum of its parts."""

    def __init__(self, path: Path, fingerprint: str, clock: Callable[[], float] = lambda: 0.0) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.clock = clock
        self.seconds_before = 0.0

    def save(self, iteration: int, learnables: Learnables, history: list[float]) -> None:
        tensors = {f"value.{k}": v.detach().cpu().contiguous() for k, v in learnables.tensors.items()}
        for name, optimiser in learnables.optimisers.items():
            state = optimiser.state.get(learnables.tensors[name], {})
            if state.get("momentum_buffer") is not None:
                tensors[f"momentum.{name}"] = state["momentum_buffer"].detach().cpu().contiguous()
        tensors["history"] = torch.tensor(history, dtype=torch.float64)
        with atomic_path(self.path) as tmp:
            seconds = self.seconds_before + self.clock()
            metadata = {"iteration": str(iteration), "fingerprint": self.fingerprint, "seconds": repr(seconds)}
            save_file(tensors, str(tmp), metadata=metadata)

    def restore(self, learnables: Learnables) -> tuple[int, list[float]]:
        try:
            with safetensors.safe_open(str(self.path), framework="pt") as handle:
                meta = handle.metadata() or {}
            tensors = load_file(str(self.path))
        except (OSError, safetensors.SafetensorError) as exc:
            raise UserError(f"{self.path}: unreadable checkpoint ({exc}); delete it to start afresh") from exc
        if meta.get("fingerprint") != self.fingerprint:
            raise UserError(
                f"{self.path}: checkpoint belongs to a different run (technique, params, dataset, "
                "IPC or seed differ); delete it or drop --resume"
            )
        with torch.no_grad():
            for name, tensor in learnables.tensors.items():
                tensor.copy_(tensors[f"value.{name}"].to(tensor.device))
                if f"momentum.{name}" in tensors:
                    state = learnables.optimisers[name].state[tensor]
                    state["momentum_buffer"] = tensors[f"momentum.{name}"].to(tensor.device).clone()
        self.seconds_before = float(meta.get("seconds", 0.0))  # absent in checkpoints of older code
        return int(meta["iteration"]), tensors["history"].tolist()


def optimise(
    learnables: Learnables,
    iterations: int,
    step: Callable[[int], float],
    *,
    checkpoint: Checkpoint | None,
    checkpoint_every: int,
    resume: bool,
    label: str,
    progress: bool,
) -> list[float]:
    """Run ``step(i)`` for i in [start, iterations); ``step`` updates ``learnables`` and returns its loss."""
    start, history = 0, []
    if resume and checkpoint is not None and checkpoint.path.is_file():
        start, history = checkpoint.restore(learnables)
    with progress_bar(range(start, iterations), label, progress) as its:
        for iteration in its:
            loss = step(iteration)
            if not torch.isfinite(torch.tensor(loss)):
                raise UserError(f"{label}: the loss became {loss} at iteration {iteration}; lower the learning rate")
            history.append(loss)
            done = iteration + 1
            if checkpoint is not None and done % checkpoint_every == 0 and done < iterations:
                checkpoint.save(done, learnables, history)
    return history
