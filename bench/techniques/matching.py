"""Pieces shared by the matching techniques: the synthetic set's fingerprint for checkpoints, the
siamese augmentation draw, and turning a finished loop into a :class:`DistilledSet`."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from bench.features.store import TrainingSplits
from bench.hashing import sha256_json
from bench.techniques.augment import AugmentDraw, AugmentParams, apply, draw, rows_for
from bench.techniques.base import Cost, DistilledSet, Technique
from bench.techniques.loop import Checkpoint, Learnables, optimise


def checkpoint_for(
    technique: Technique, train_set: TrainingSplits, ipc: int, seed: int, iterations: int
) -> Checkpoint | None:
    path = technique.context.checkpoint_path
    if path is None:
        return None
    fingerprint = sha256_json(
        {
            "technique": technique.name,
            "params": technique.describe(),
            "ipc": ipc,
            "seed": seed,
            "iterations": iterations,
            "data": train_set.cache_key,
            "model": technique.context.model.describe(),
        }
    )
    return Checkpoint(path, fingerprint, clock=technique.seconds_so_far)


def run_loop(
    technique: Technique,
    train_set: TrainingSplits,
    ipc: int,
    seed: int,
    learnables: Learnables,
    labels: torch.Tensor,
    iterations: int,
    step: Callable[[int], float],
    progress: bool,
) -> list[float]:
    """:func:`optimise` with the technique's checkpoint settings, a progress label and the context's
    periodic validation monitor (``learnables`` holds the synthetic ``x`` and maybe a learned ``lr``)."""
    context = technique.context
    monitored_step = step
    if context.monitor is not None and context.monitor_checks > 0:
        every = max(1, iterations // context.monitor_checks)
        monitor = context.monitor

        def monitored_step(iteration: int) -> float:
            loss = step(iteration)
            if (iteration + 1) % every == 0 or iteration + 1 == iterations:
                start = time.perf_counter()
                lr = learnables.tensors.get("lr")
                x = learnables.tensors["x"].detach().cpu().clone()
                accuracy = monitor(x, labels.detach().cpu(), None if lr is None else float(lr.detach()))
                technique.monitored.append((iteration + 1, accuracy))
                technique.monitor_seconds += time.perf_counter() - start
            return loss

    checkpoint = checkpoint_for(technique, train_set, ipc, seed, iterations)
    history = optimise(
        learnables,
        iterations,
        monitored_step,
        checkpoint=checkpoint,
        checkpoint_every=technique.context.checkpoint_every,
        resume=technique.context.resume,
        label=f"{technique.name} {train_set.dataset} ipc={ipc}",
        progress=progress,
    )
    if checkpoint is not None:
        technique.resumed_seconds = checkpoint.seconds_before
    return history


def siamese(params: AugmentParams, generator: torch.Generator, *batches: torch.Tensor) -> list[torch.Tensor]:
    """One draw applied to every batch: the same transform for real and synthetic data."""
    sampled: AugmentDraw = draw(params, 1, generator, per_sample=False)
    return [apply(batch, sampled) for batch in batches]


def siamese_per_class(
    params: AugmentParams, generator: torch.Generator, num_classes: int, *batches: tuple[torch.Tensor, torch.Tensor]
) -> list[torch.Tensor]:
    """One draw per class, applied to that class's items in every (x, labels) batch: siamese within a class,
    independent across classes, as the reference code's per-class augmentation seed."""
    sampled: AugmentDraw = draw(params, num_classes, generator, per_sample=True)
    return [apply(x, rows_for(sampled, labels)) for x, labels in batches]


def siamese_op_per_sample(
    params: AugmentParams, generator: torch.Generator, *batches: torch.Tensor
) -> list[torch.Tensor]:
    """One op for every batch, with its own parameters for each item: the reference DSA's per-sample mode,
    where a shared seed makes real and synthetic batches draw the same op but every item its own values."""
    sizes = [len(batch) for batch in batches]
    sampled: AugmentDraw = draw(params, sum(sizes), generator, per_sample=True)
    rows = torch.arange(sum(sizes)).split(sizes)
    return [apply(batch, rows_for(sampled, index)) for batch, index in zip(batches, rows, strict=True)]


def finish(
    technique: Technique,
    x: torch.Tensor,
    y: torch.Tensor,
    history: list[float],
    iterations: int,
    lr: float | None = None,
) -> DistilledSet:
    return DistilledSet(
        x.detach().cpu().clone(),
        y.detach().cpu().clone(),
        technique.name,
        technique.describe(),
        Cost(0.0, iterations, 0.0),
        lr=lr,
        history=history,
        monitored=list(technique.monitored),
    )
