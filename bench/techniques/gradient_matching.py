"""Gradient Matching: Dataset Condensation (DC, Zhao et al., ICLR 2021) and with Differentiable Siamese
Augmentation (DSA, Zhao & Bilen, ICML 2021).

Per iteration a fresh ConvNet; ``outer_loop`` times: match, class by class, the layer-wise gradients
of the loss on a real batch and on the synthetic items (sum over output channels of 1 - cosine),
update the synthetic set, then train the network ``inner_loop`` epochs on the synthetic set. The loop
counts follow the reference code's table by IPC unless set."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from bench.augment import AugmentParams, augment
from bench.models import build_convnet
from bench.techniques.base import Budget, DistilledSet, Technique
from bench.techniques.loop import Learnables, iteration_generator, iteration_seed
from bench.techniques.matching import finish, run_loop, siamese
from bench.techniques.registry import register_technique
from bench.techniques.sampling import ClassSampler

# The reference code's (outer_loop, inner_loop) per IPC.
LOOPS_BY_IPC = {1: (1, 1), 10: (10, 50), 20: (20, 25), 30: (30, 20), 40: (40, 15), 50: (50, 10)}


def loops_for(ipc: int) -> tuple[int, int]:
    if ipc in LOOPS_BY_IPC:
        return LOOPS_BY_IPC[ipc]
    nearest = min(LOOPS_BY_IPC, key=lambda k: abs(k - ipc))
    return LOOPS_BY_IPC[nearest]


@dataclass(frozen=True)
class GMParams:
    iterations: int = 1000
    lr_img: float = 0.1
    momentum: float = 0.5
    lr_net: float = 0.01
    batch_real: int = 256
    batch_train: int = 256
    outer_loop: int | None = None
    inner_loop: int | None = None
    init: str = "real"
    augment: bool = False


def gradient_distance(synthetic: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    """Sum over layers and output channels of (1 - cosine). Biases and norm parameters (1-D) are skipped,
    as in the reference code."""
    total = synthetic[0].new_zeros(())
    for gs, gr in zip(synthetic, real, strict=True):
        if gs.dim() == 1:
            continue
        gs, gr = gs.flatten(1), gr.flatten(1)
        cosine = (gs * gr).sum(dim=1) / (gs.norm(dim=1) * gr.norm(dim=1) + 1e-6)
        total = total + (1 - cosine).sum()
    return total


class _GradientMatching(Technique):
    Params = GMParams

    def distill(self, train_set, ipc, seed, budget: Budget, device, progress) -> DistilledSet:
        p: GMParams = self.params
        iterations = budget.iterations if budget.iterations is not None else p.iterations
        outer_default, inner_default = loops_for(ipc)
        outer_loop, inner_loop = p.outer_loop or outer_default, p.inner_loop or inner_default
        sampler = ClassSampler(train_set, device)
        x0, y = sampler.initial(ipc, p.init, seed)
        learn = Learnables.create({"x": (x0, p.lr_img, p.momentum)})
        augment_params = AugmentParams()
        num_classes = train_set.num_classes

        def step(iteration: int) -> float:
            generator = iteration_generator(seed, iteration, "batch")
            net = build_convnet(
                train_set.shape, num_classes, self.context.model, iteration_seed(seed, iteration, "net")
            ).to(device)
            params = list(net.parameters())
            net_optimiser = torch.optim.SGD(params, lr=p.lr_net)
            total = 0.0
            for outer in range(outer_loop):
                loss = torch.zeros((), device=device)
                for c in range(num_classes):
                    real = sampler.class_batch(c, p.batch_real, generator)
                    syn = learn.tensors["x"][c * ipc : (c + 1) * ipc]
                    if p.augment:
                        real, syn = siamese(augment_params, generator, real, syn)
                    target_real = torch.full((len(real),), c, device=device)
                    target_syn = torch.full((len(syn),), c, device=device)
                    real_grads = torch.autograd.grad(F.cross_entropy(net(real), target_real), params)
                    real_grads = [g.detach() for g in real_grads]
                    syn_grads = torch.autograd.grad(F.cross_entropy(net(syn), target_syn), params, create_graph=True)
                    loss = loss + gradient_distance(list(syn_grads), real_grads)
                learn.zero_grad()
                loss.backward()
                learn.step()
                total += float(loss.detach())
                if outer == outer_loop - 1:
                    break
                snapshot = learn.tensors["x"].detach()
                for _ in range(inner_loop):
                    order = torch.randperm(len(y), generator=generator).to(device)
                    for start in range(0, len(y), p.batch_train):
                        idx = order[start : start + p.batch_train]
                        batch = snapshot[idx]
                        if p.augment:
                            batch = augment(batch, augment_params, generator, per_sample=True)
                        net_loss = F.cross_entropy(net(batch), y[idx])
                        net_optimiser.zero_grad(set_to_none=True)
                        net_loss.backward()
                        net_optimiser.step()
            return total / outer_loop

        history = run_loop(self, train_set, ipc, seed, learn, y, iterations, step, progress)
        return finish(self, learn.tensors["x"], y, history, iterations)


@register_technique
class DatasetCondensation(_GradientMatching):
    name = "dc"
    description = "Gradient Matching (Dataset Condensation)"
    profile_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "quick": {"iterations": 40, "batch_real": 64, "outer_loop": 5, "inner_loop": 10},
        "standard": {"iterations": 1000},
    }


@register_technique
class DifferentiableSiameseAugmentation(_GradientMatching):
    name = "dsa"
    description = "Gradient Matching with audio-aware Differentiable Siamese Augmentation"
    profile_defaults = DatasetCondensation.profile_defaults

    @classmethod
    def configure(cls, profile, overrides=None):
        return super().configure(profile, {"augment": True, **(overrides or {})})
