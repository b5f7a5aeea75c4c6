"""Information-intensive Dataset Condensation (IDC, Kim et al., ICML 2022), adapted to spectrograms.

Two changes to gradient matching (DC/DSA), each one parameter away from off:

* **Multi-formation** (``factor``): a stored item holds ``factor`` consecutive time segments and decodes,
  through the set's ``time-segments`` decoder, into ``factor`` full-length training items; gradients are
  matched on the decoded items, so the stored bytes carry ``factor`` times the items. Items start from
  ``factor`` real clips squeezed side by side (:func:`bench.techniques.idm.squeeze_segments`). Time is the
  axis to split: a lower-resolution mel grid stretched back up blurs the formants the classes differ by
  (measured in the README's set-forms table for IDM, which shares the decoder).
* **Networks trained on real data** (``net_data: real``): between matching steps the network takes
  ``inner_loop`` SGD steps on real batches rather than epochs on the synthetic set, so the gradients being
  matched are those of a network on the real data's path, IDC's finding.

Matching itself is DC's: per class, layer-wise 1 - cosine between the gradients on a real batch and on the
class's decoded items, with one siamese augmentation draw for both when ``augment`` (DSA's).
With ``factor`` 1 and ``net_data: synthetic`` it is :mod:`gradient_matching` (dc, or dsa with augment)
bit for bit (tested)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from bench.errors import UserError
from bench.models import build_model
from bench.sets.decoders import Decoder
from bench.sets.references import random_real_subset
from bench.techniques.augment import AugmentParams, augment
from bench.techniques.base import Budget, DistilledSet, Technique
from bench.techniques.gradient_matching import class_gradient_loss, loops_for
from bench.techniques.idm import squeeze_segments
from bench.techniques.loop import Learnables, iteration_generator, iteration_seed
from bench.techniques.matching import finish, run_loop, siamese
from bench.techniques.registry import register_technique
from bench.techniques.sampling import ClassSampler
from bench.typed import ranged, require_choice

NET_DATA = ("real", "synthetic")


@dataclass(frozen=True)
class IDCParams:
    iterations: int = ranged(1000, ge=1)
    lr_img: float = ranged(0.1, gt=0)
    momentum: float = ranged(0.5, ge=0, le=1)
    lr_net: float = ranged(0.01, gt=0)
    batch_real: int = ranged(256, ge=1)
    batch_train: int = ranged(256, ge=1)
    outer_loop: int | None = ranged(None, ge=1)
    inner_loop: int | None = ranged(None, ge=1)
    augment: bool = True
    factor: int = ranged(2, ge=1)  # time segments per stored item (1: no multi-formation)
    net_data: str = "real"  # what the network trains on between matching steps


@register_technique
class InformationIntensiveCondensation(Technique):
    name = "idc"
    description = "IDC: gradient matching on time-segment multi-formation, networks trained on real data"
    Params = IDCParams
    profile_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "quick": {"iterations": 40, "batch_real": 64, "outer_loop": 5, "inner_loop": 10},
        "standard": {"iterations": 1000},
    }

    def distill(self, train_set, ipc, seed, budget: Budget, device, progress) -> DistilledSet:
        p: IDCParams = self.params
        require_choice(p.net_data, NET_DATA, "techniques.idc.net_data")
        frames = train_set.shape[-1]
        if frames % p.factor:
            raise UserError(f"techniques.idc.factor: {p.factor} does not divide the items' {frames} frames")
        fewest = int(torch.bincount(train_set.train.y, minlength=train_set.num_classes).min())
        if ipc * p.factor > fewest:
            raise UserError(
                f"techniques.idc.factor: IPC {ipc} x factor {p.factor} needs {ipc * p.factor} real clips per class "
                f"to start from, but a class of {train_set.dataset} has {fewest}; lower the factor"
            )
        iterations = budget.iterations if budget.iterations is not None else p.iterations
        outer_default, inner_default = loops_for(ipc)
        outer_loop, inner_loop = p.outer_loop or outer_default, p.inner_loop or inner_default
        num_classes = train_set.num_classes
        decoder = (
            Decoder.from_spec({"name": "time-segments", "factor": p.factor}, "techniques.idc.factor")
            if p.factor > 1
            else None
        )
        sampler = ClassSampler(train_set, device)
        start = random_real_subset(train_set, ipc * p.factor, seed)
        x0 = squeeze_segments(start.x, p.factor) if decoder else start.x
        y = start.y[:: p.factor].to(device)
        decoded_y = y.repeat_interleave(p.factor)
        per_class = ipc * p.factor  # decoded items of a class, contiguous (class-major, segments in order)
        learn = Learnables.create({"x": (x0.to(device), p.lr_img, p.momentum)})
        augment_params = AugmentParams()

        def decoded() -> torch.Tensor:
            return learn.tensors["x"] if decoder is None else decoder.decode(learn.tensors["x"])

        def network_batches(generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            """Lazily, so every draw (order, augmentation) comes in the order DC makes it."""
            if p.net_data == "real":
                for _ in range(inner_loop):
                    yield sampler.per_class(max(1, p.batch_train // num_classes), generator)
                return
            snapshot = decoded().detach()
            for _ in range(inner_loop):
                order = torch.randperm(len(decoded_y), generator=generator).to(device)
                for idx in order.split(p.batch_train):
                    yield snapshot[idx], decoded_y[idx]

        def train_network(net: torch.nn.Module, optimiser: torch.optim.Optimizer, generator: torch.Generator) -> None:
            for batch, labels in network_batches(generator):
                if p.augment:
                    batch = augment(batch, augment_params, generator, per_sample=True)
                loss = F.cross_entropy(net(batch), labels)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()

        def step(iteration: int) -> float:
            generator = iteration_generator(seed, iteration, "batch")
            net = build_model(
                self.context.model, train_set.shape, num_classes, iteration_seed(seed, iteration, "net")
            ).to(device)
            net_optimiser = torch.optim.SGD(net.parameters(), lr=p.lr_net)
            total = 0.0
            for outer in range(outer_loop):
                syn_all = decoded()
                reals, syns = [], []
                for c in range(num_classes):
                    real = sampler.class_batch(c, p.batch_real, generator)
                    syn = syn_all[c * per_class : (c + 1) * per_class]
                    if p.augment:
                        real, syn = siamese(augment_params, generator, real, syn)
                    reals.append(real)
                    syns.append(syn)
                loss = class_gradient_loss(net, reals, syns, "loop")
                learn.zero_grad()
                loss.backward()
                learn.step()
                total += float(loss.detach())
                if outer == outer_loop - 1:
                    break
                train_network(net, net_optimiser, generator)
            return total / outer_loop

        history = run_loop(self, train_set, ipc, seed, learn, y, iterations, step, progress)
        result = finish(self, learn.tensors["x"], y, history, iterations)
        result.decoder = None if decoder is None else decoder.spec()
        return result
