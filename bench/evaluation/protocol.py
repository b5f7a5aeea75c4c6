"""Train K freshly initialised networks (one per explicit seed) on a labelled set and report the
FINAL-epoch accuracy on the real test split. Never the best checkpoint: that would select on test.

The training recipe (:class:`~bench.params.ProtocolParams`) is shared by every training-based track; the
network comes from the model registry."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from bench.device import peak_memory_mb, reset_peak_memory
from bench.errors import UserError
from bench.evaluation.acceleration import NONE, Acceleration
from bench.features.store import FeatureSet, LabelledTensors
from bench.models import ModelSpec
from bench.params import ProtocolParams
from bench.progress import progress_bar
from bench.techniques.augment import AugmentParams, augment


@dataclass
class SeedResult:
    seed: int
    test_accuracy: float
    validation_accuracy: float
    train_seconds: float
    final_train_loss: float
    confusion: list[list[int]] = field(default_factory=list)  # test split: rows true class, columns predicted


@dataclass
class ProtocolResult:
    seeds: list[SeedResult]
    wall_seconds: float
    peak_memory_mb: float

    @property
    def test_mean(self) -> float:
        return statistics.fmean(s.test_accuracy for s in self.seeds)

    @property
    def test_std(self) -> float:
        return statistics.pstdev(s.test_accuracy for s in self.seeds) if len(self.seeds) > 1 else 0.0

    @property
    def validation_mean(self) -> float:
        return statistics.fmean(s.validation_accuracy for s in self.seeds)


def lr_at_epoch(protocol: ProtocolParams, base_lr: float, epoch: int) -> float:
    """Step schedule: ``base_lr`` until ``lr_decay_at`` of the epochs, then times ``lr_decay_factor``."""
    decay_epoch = int(protocol.epochs * protocol.lr_decay_at)
    return base_lr * (protocol.lr_decay_factor if epoch >= decay_epoch else 1.0)


@torch.no_grad()
def predictions(model: nn.Module, x: torch.Tensor, device: torch.device, batch_size: int = 1024) -> torch.Tensor:
    model.eval()
    return torch.cat(
        [model(x[i : i + batch_size].to(device)).argmax(dim=1).cpu() for i in range(0, len(x), batch_size)]
    )


def accuracy(model: nn.Module, data: LabelledTensors, device: torch.device, batch_size: int = 1024) -> float:
    if not len(data):
        return 0.0
    return int((predictions(model, data.x, device, batch_size) == data.y).sum()) / len(data)


def confusion_matrix(predicted: torch.Tensor, truth: torch.Tensor, num_classes: int) -> list[list[int]]:
    counts = torch.bincount(truth * num_classes + predicted, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).tolist()


def train_network(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    model_spec: ModelSpec,
    protocol: ProtocolParams,
    seed: int,
    device: torch.device,
    lr: float | None = None,
    acceleration: Acceleration = NONE,
    augment_batches: bool = False,
) -> tuple[nn.Module, float]:
    """Train one network with the protocol's recipe; returns it and its last-epoch mean training loss.
    ``augment_batches`` applies the audio-aware augmentation to every training batch, from a generator of
    its own so the minibatch order stays that of the plain recipe."""
    model = model_spec.build(tuple(x.shape[1:]), num_classes, seed).to(device)
    if acceleration.chunked and not model.per_sample:
        raise UserError(
            f"--accelerate chunked needs a per-sample norm; model {model_spec.describe()} mixes the items "
            "of a batch, so pieces of a batch would train a different network"
        )
    forward = acceleration.training_forward(model)
    base_lr = protocol.lr if lr is None else lr
    optimiser = torch.optim.SGD(
        model.parameters(), lr=base_lr, momentum=protocol.momentum, weight_decay=protocol.weight_decay
    )
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    augmentation = torch.Generator().manual_seed(seed + 1_000_003) if augment_batches else None
    x, y = x.to(device), y.to(device)
    n = int(y.numel())
    last_loss = math.nan
    model.train()
    for epoch in range(protocol.epochs):
        for group in optimiser.param_groups:
            group["lr"] = lr_at_epoch(protocol, base_lr, epoch)
        order = torch.randperm(n, generator=generator).to(device)
        total, batches = 0.0, 0
        for start in range(0, n, protocol.batch_size):
            idx = order[start : start + protocol.batch_size]
            batch = x[idx]
            if augmentation is not None:
                batch = augment(batch, AugmentParams(), augmentation, per_sample=True)
            optimiser.zero_grad(set_to_none=True)
            total += acceleration.backward(forward, loss_fn, batch, y[idx], model.chunk)
            optimiser.step()
            batches += 1
        last_loss = total / batches
    return model, last_loss


def _scored(
    model: nn.Module, seed: int, seconds: float, loss: float, features: FeatureSet, device: torch.device
) -> SeedResult:
    predicted = predictions(model, features.test.x, device)
    return SeedResult(
        seed=seed,
        test_accuracy=int((predicted == features.test.y).sum()) / max(len(features.test), 1),
        validation_accuracy=accuracy(model, features.validation, device),
        train_seconds=seconds,
        final_train_loss=loss,
        confusion=confusion_matrix(predicted, features.test.y, features.num_classes),
    )


def evaluate_set(
    x: torch.Tensor,
    y: torch.Tensor,
    features: FeatureSet,
    model_spec: ModelSpec,
    protocol: ProtocolParams,
    device: torch.device,
    lr: float | None = None,
    progress: bool = False,
    vectorise: str = "auto",
    acceleration: Acceleration = NONE,
    augment_batches: bool = False,
) -> ProtocolResult:
    """Run the protocol for every seed on the labelled set ``(x, y)``; ``vectorise`` (auto, on, off)
    chooses between training the seeds together (:mod:`bench.evaluation.vectorised`) or one by one.
    ``acceleration`` and ``augment_batches`` apply to the sequential path, so either implies it."""
    from bench.evaluation import vectorised

    reset_peak_memory(device)
    start = time.perf_counter()
    results = []
    sequential_only = acceleration.active or augment_batches
    if vectorise == "on" and sequential_only:
        raise UserError(
            "--accelerate and evaluation-time augmentation apply to sequential evaluation; drop --vectorise on"
        )
    if not sequential_only and vectorised.use_vectorised(
        vectorise, x, model_spec, features.num_classes, protocol, device
    ):
        models, losses = vectorised.train_networks(x, y, features.num_classes, model_spec, protocol, device, lr)
        per_seed = (time.perf_counter() - start) / len(models)
        for seed, model, loss in zip(protocol.seeds, models, losses, strict=True):
            results.append(_scored(model, seed, per_seed, loss, features, device))
        return ProtocolResult(results, time.perf_counter() - start, peak_memory_mb(device))
    with progress_bar(protocol.seeds, f"evaluate {features.dataset} ({len(y)} items)", progress) as seeds:
        for seed in seeds:
            seed_start = time.perf_counter()
            model, loss = train_network(
                x, y, features.num_classes, model_spec, protocol, seed, device, lr, acceleration, augment_batches
            )
            results.append(_scored(model, seed, time.perf_counter() - seed_start, loss, features, device))
    return ProtocolResult(results, time.perf_counter() - start, peak_memory_mb(device))
