"""Improved Distribution Matching (IDM, Zhao et al., CVPR 2023), adapted to spectrograms.

Three changes to DM, each one parameter away from off:

* **Partitioning and expansion** (``factor``): a stored item holds ``factor`` consecutive time segments and
  decodes, through the set's ``time-segments`` decoder, into ``factor`` full-length training items, so the
  same stored bytes carry ``factor`` times the items. It is IDC's multi-formation; on spectrograms the time
  axis is the natural one to split (a mel sub-band stretched to the full band would be a different sound).
  Items start from ``factor`` real clips squeezed in time side by side.
* **A pool of partially trained networks** (``pool_networks``): matching draws, besides DM's freshly
  initialised ConvNets, networks trained for a few SGD steps on the real training split. The pool is trained
  before the loop from the run's seed and counted in the distillation time; each iteration draws one
  (network, step) snapshot, so every draw of iteration ``i`` still comes from (seed, i) and a resumed run
  rebuilds the same pool and continues bit for bit.
* **Class-aware regularisation** (``ce_weight``): a trained snapshot's classifier must recognise the decoded
  synthetic items (cross-entropy on the embedding the matching loss already computed).

Reference-code settings this follows: real batches per class as DM's, one siamese augmentation draw for real
and synthetic batches per iteration, SGD with momentum on the stored items."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from bench.errors import UserError
from bench.features.store import TrainingSplits
from bench.models import ModelSpec, build_model
from bench.progress import progress_bar
from bench.sets.decoders import Decoder
from bench.sets.references import random_real_subset
from bench.techniques.augment import AugmentParams, augment
from bench.techniques.base import Budget, DistilledSet, Technique
from bench.techniques.dm import class_means
from bench.techniques.loop import Learnables, iteration_generator, iteration_seed
from bench.techniques.matching import finish, run_loop, siamese
from bench.techniques.registry import register_technique
from bench.techniques.sampling import ClassSampler
from bench.typed import ranged


@dataclass(frozen=True)
class IDMParams:
    iterations: int = ranged(1000, ge=1)
    lr_img: float = ranged(1.0, gt=0)
    momentum: float = ranged(0.5, ge=0, le=1)
    batch_real: int = ranged(256, ge=1)
    augment: bool = True
    factor: int = ranged(2, ge=1)  # time segments per stored item (1: no partitioning)
    pool_networks: int = ranged(4, ge=0)  # 0: DM's random networks only
    pool_steps: int = ranged(60, ge=1)  # SGD steps each pool network trains on real data
    pool_snapshot_every: int = ranged(10, ge=1)
    pool_lr: float = ranged(0.01, gt=0)
    pool_batch: int = ranged(256, ge=1)
    ce_weight: float = ranged(0.1, ge=0)


@dataclass
class Snapshot:
    flat: torch.Tensor | None  # None: a fresh random network of the iteration's own seed
    steps: int


def squeeze_segments(x: torch.Tensor, factor: int) -> torch.Tensor:
    """(n * factor, c, mels, frames) real items -> (n, c, mels, frames): item i holds real items
    i*factor..i*factor+factor-1, each squeezed to frames/factor, side by side (the decoder's inverse)."""
    m, channels, mels, frames = x.shape
    width = frames // factor
    squeezed = F.interpolate(x.reshape(m, channels * mels, frames), size=width, mode="linear", align_corners=True)
    squeezed = squeezed.reshape(m // factor, factor, channels, mels, width).permute(0, 2, 3, 1, 4)
    return squeezed.reshape(m // factor, channels, mels, frames)


def train_pool(
    train_set: TrainingSplits, model: ModelSpec, p: IDMParams, seed: int, device: torch.device, progress: bool
) -> list[Snapshot]:
    """Every ``pool_snapshot_every`` steps of ``pool_networks`` networks trained on the real training split
    (augmented per sample), plus the step-0 entries that stand for DM's fresh random networks."""
    snapshots = [Snapshot(None, 0) for _ in range(max(1, p.pool_networks))]
    x, y = train_set.train.x.to(device), train_set.train.y.to(device)
    augment_params = AugmentParams()
    with progress_bar(range(p.pool_networks), f"idm pool {train_set.dataset}", progress) as networks:
        for index in networks:
            net_seed = iteration_seed(seed, index, "idm-pool")
            net = build_model(model, train_set.shape, train_set.num_classes, net_seed).to(device)
            optimiser = torch.optim.SGD(net.parameters(), lr=p.pool_lr, momentum=0.9, weight_decay=5e-4)
            generator = torch.Generator().manual_seed(net_seed)
            for step in range(1, p.pool_steps + 1):
                batch = torch.randint(len(y), (p.pool_batch,), generator=generator).to(device)
                inputs = augment(x[batch], augment_params, generator, per_sample=True) if p.augment else x[batch]
                loss = F.cross_entropy(net(inputs), y[batch])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                if step % p.pool_snapshot_every == 0:
                    flat = torch.nn.utils.parameters_to_vector(net.parameters()).detach().clone()
                    snapshots.append(Snapshot(flat, step))
    return snapshots


@register_technique
class ImprovedDistributionMatching(Technique):
    name = "idm"
    description = "IDM: DM with time-segment partitioning, a pool of partly trained nets, class-aware loss"
    Params = IDMParams
    profile_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "quick": {"iterations": 200, "batch_real": 128},
        "standard": {"iterations": 20000},
    }

    def distill(self, train_set, ipc, seed, budget: Budget, device, progress) -> DistilledSet:
        p: IDMParams = self.params
        frames = train_set.shape[-1]
        if frames % p.factor:
            raise UserError(f"techniques.idm.factor: {p.factor} does not divide the items' {frames} frames")
        fewest = int(torch.bincount(train_set.train.y, minlength=train_set.num_classes).min())
        if ipc * p.factor > fewest:
            raise UserError(
                f"techniques.idm.factor: IPC {ipc} x factor {p.factor} needs {ipc * p.factor} real clips per class "
                f"to start from, but a class of {train_set.dataset} has {fewest}; lower the factor"
            )
        iterations = budget.iterations if budget.iterations is not None else p.iterations
        num_classes = train_set.num_classes
        decoder = (
            Decoder.from_spec({"name": "time-segments", "factor": p.factor}, "techniques.idm.factor")
            if p.factor > 1
            else None
        )
        sampler = ClassSampler(train_set, device)
        start = random_real_subset(train_set, ipc * p.factor, seed)
        x0 = squeeze_segments(start.x, p.factor) if decoder else start.x
        y = start.y[:: p.factor].to(device)
        decoded_y = y.repeat_interleave(p.factor)
        pool = train_pool(train_set, self.context.model, p, seed, device, progress)
        learn = Learnables.create({"x": (x0.to(device), p.lr_img, p.momentum)})
        augment_params = AugmentParams()

        def network(iteration: int, generator: torch.Generator) -> tuple[torch.nn.Module, bool]:
            # a pool of one (DM's random networks alone) draws nothing, so every improvement off is DM bit for bit
            snapshot = pool[int(torch.randint(len(pool), (1,), generator=generator))] if len(pool) > 1 else pool[0]
            net = build_model(self.context.model, train_set.shape, num_classes, iteration_seed(seed, iteration, "net"))
            if snapshot.flat is not None:
                torch.nn.utils.vector_to_parameters(snapshot.flat, net.parameters())
            return net.to(device).requires_grad_(False), snapshot.flat is not None

        def step(iteration: int) -> float:
            generator = iteration_generator(seed, iteration, "batch")
            net, trained = network(iteration, generator)
            real_x, real_y = sampler.per_class(p.batch_real, generator)
            syn_x = learn.tensors["x"]
            if decoder is not None:
                syn_x = decoder.decode(syn_x)
            if p.augment:
                real_x, syn_x = siamese(augment_params, generator, real_x, syn_x)
            with torch.no_grad():
                real_means = class_means(net.embed(real_x), real_y, num_classes)
            syn_embedding = net.embed(syn_x)
            loss = ((real_means - class_means(syn_embedding, decoded_y, num_classes)) ** 2).sum()
            if trained and p.ce_weight > 0:
                loss = loss + p.ce_weight * F.cross_entropy(net.classifier(syn_embedding), decoded_y)
            learn.zero_grad()
            loss.backward()
            learn.step()
            return float(loss.detach())

        history = run_loop(self, train_set, ipc, seed, learn, y, iterations, step, progress)
        result = finish(self, learn.tensors["x"], y, history, iterations)
        result.decoder = None if decoder is None else decoder.spec()
        return result
