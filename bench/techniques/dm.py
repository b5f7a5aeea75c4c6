"""Distribution Matching (Zhao & Bilen, WACV 2023).

Each iteration draws a freshly initialised ConvNet and moves the synthetic set so that every class's
mean embedding matches the mean embedding of a real batch of that class. Instance norm is per sample,
so one forward pass over all classes gives the same class means as the reference per-class loop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from bench.models import build_model
from bench.techniques.augment import AugmentParams
from bench.techniques.base import Budget, DistilledSet, Technique
from bench.techniques.loop import Learnables, iteration_generator, iteration_seed
from bench.techniques.matching import finish, run_loop, siamese, siamese_op_per_sample, siamese_per_class
from bench.techniques.registry import register_technique
from bench.techniques.sampling import ClassSampler
from bench.typed import ranged, require_choice


@dataclass(frozen=True)
class DMParams:
    iterations: int = ranged(1000, ge=1)
    lr_img: float = ranged(1.0, gt=0)
    momentum: float = ranged(0.5, ge=0, le=1)
    batch_real: int = ranged(256, ge=1)
    init: str = "real"
    augment: bool = True
    # Siamese draws per iteration: "batch" one for all items, "class" one per class, "sample" one op for all
    # items with per-item values (the reference DSA's per-sample mode).
    augment_scope: str = "batch"


AUGMENT_SCOPES = ("batch", "class", "sample")


def class_means(embedding: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    totals = torch.zeros(num_classes, embedding.shape[1], device=embedding.device, dtype=embedding.dtype)
    totals.index_add_(0, labels, embedding)
    counts = torch.bincount(labels, minlength=num_classes).clamp_min(1).to(embedding.dtype)
    return totals / counts[:, None]


@register_technique
class DistributionMatching(Technique):
    name = "dm"
    description = "Distribution Matching: per-class mean embeddings of random ConvNets"
    Params = DMParams
    profile_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "quick": {"iterations": 200, "batch_real": 128},
        "standard": {"iterations": 20000},
    }

    def distill(self, train_set, ipc, seed, budget: Budget, device, progress) -> DistilledSet:
        p: DMParams = self.params
        require_choice(p.augment_scope, AUGMENT_SCOPES, "techniques.dm.augment_scope")
        iterations = budget.iterations if budget.iterations is not None else p.iterations
        sampler = ClassSampler(train_set, device)
        x0, y = sampler.initial(ipc, p.init, seed)
        learn = Learnables.create({"x": (x0, p.lr_img, p.momentum)})
        augment = AugmentParams()
        num_classes = train_set.num_classes

        def step(iteration: int) -> float:
            generator = iteration_generator(seed, iteration, "batch")
            net = build_model(
                self.context.model, train_set.shape, num_classes, iteration_seed(seed, iteration, "net")
            ).to(device)
            net.requires_grad_(False)
            real_x, real_y = sampler.per_class(p.batch_real, generator)
            syn_x = learn.tensors["x"]
            if p.augment and p.augment_scope == "class":
                real_x, syn_x = siamese_per_class(augment, generator, num_classes, (real_x, real_y), (syn_x, y))
            elif p.augment and p.augment_scope == "sample":
                real_x, syn_x = siamese_op_per_sample(augment, generator, real_x, syn_x)
            elif p.augment:
                real_x, syn_x = siamese(augment, generator, real_x, syn_x)
            with torch.no_grad():
                real_means = class_means(net.embed(real_x), real_y, num_classes)
            syn_means = class_means(net.embed(syn_x), y, num_classes)
            loss = ((real_means - syn_means) ** 2).sum()
            learn.zero_grad()
            loss.backward()
            learn.step()
            return float(loss.detach())

        history = run_loop(self, train_set, ipc, seed, learn, y, iterations, step, progress)
        return finish(self, learn.tensors["x"], y, history, iterations)
