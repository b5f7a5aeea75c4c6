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
from torch.func import functional_call, grad, vmap

from bench.models import build_model
from bench.techniques.augment import AugmentParams, augment
from bench.techniques.base import Budget, DistilledSet, Technique
from bench.techniques.loop import Learnables, iteration_generator, iteration_seed
from bench.techniques.matching import finish, run_loop, siamese
from bench.techniques.registry import register_technique
from bench.techniques.sampling import ClassSampler
from bench.typed import ranged, require_choice

# The reference code's (outer_loop, inner_loop) per IPC.
LOOPS_BY_IPC = {1: (1, 1), 10: (10, 50), 20: (20, 25), 30: (30, 20), 40: (40, 15), 50: (50, 10)}


def loops_for(ipc: int) -> tuple[int, int]:
    if ipc in LOOPS_BY_IPC:
        return LOOPS_BY_IPC[ipc]
    nearest = min(LOOPS_BY_IPC, key=lambda k: abs(k - ipc))
    return LOOPS_BY_IPC[nearest]


@dataclass(frozen=True)
class GMParams:
    iterations: int = ranged(1000, ge=1)
    lr_img: float = ranged(0.1, gt=0)
    momentum: float = ranged(0.5, ge=0, le=1)
    lr_net: float = ranged(0.01, gt=0)
    batch_real: int = ranged(256, ge=1)
    batch_train: int = ranged(256, ge=1)
    outer_loop: int | None = ranged(None, ge=1)
    inner_loop: int | None = ranged(None, ge=1)
    init: str = "real"
    augment: bool = False
    # "loop": one forward/backward per class (the reference's way); "vmap": every class at once with
    # torch.func (same loss within float tolerance). On a 2-core CPU vmap measured 2.4x slower, so loop is
    # the default; vmap is there for accelerators, where per-class kernel launches dominate.
    class_batching: str = "loop"


CLASS_BATCHING = ("loop", "vmap")


def gradient_distance(synthetic: list[torch.Tensor], real: list[torch.Tensor], batch_dims: int = 0) -> torch.Tensor:
    """Sum over layers and output channels of (1 - cosine). Biases and norm parameters (1-D per item) are
    skipped, as in the reference code. ``batch_dims`` leading dimensions (e.g. classes) are summed over too."""
    total = synthetic[0].new_zeros(())
    channel = batch_dims + 1
    for gs, gr in zip(synthetic, real, strict=True):
        if gs.dim() == channel:
            continue
        gs, gr = gs.flatten(channel), gr.flatten(channel)
        cosine = (gs * gr).sum(dim=channel) / (gs.norm(dim=channel) * gr.norm(dim=channel) + 1e-6)
        total = total + (1 - cosine).sum()
    return total


def class_gradient_loss(
    net: torch.nn.Module, real: list[torch.Tensor], syn: list[torch.Tensor], batching: str
) -> torch.Tensor:
    """Sum over classes ``c`` of :func:`gradient_distance` between the gradients of the loss on ``real[c]``
    and on ``syn[c]``; differentiable in ``syn``. ``vmap`` needs equally sized classes (a class smaller
    than the real batch falls back to the loop)."""
    if batching == "vmap" and len({len(r) for r in real}) == 1 and len({len(s) for s in syn}) == 1:
        return _class_gradient_loss_vmap(net, torch.stack(real), torch.stack(syn))
    params = list(net.parameters())
    loss = syn[0].new_zeros(())
    for c, (real_c, syn_c) in enumerate(zip(real, syn, strict=True)):
        real_loss = F.cross_entropy(net(real_c), torch.full((len(real_c),), c, device=real_c.device))
        real_grads = [g.detach() for g in torch.autograd.grad(real_loss, params)]
        syn_loss = F.cross_entropy(net(syn_c), torch.full((len(syn_c),), c, device=syn_c.device))
        syn_grads = torch.autograd.grad(syn_loss, params, create_graph=True)
        loss = loss + gradient_distance(list(syn_grads), real_grads)
    return loss


def _class_gradient_loss_vmap(net: torch.nn.Module, real: torch.Tensor, syn: torch.Tensor) -> torch.Tensor:
    params = dict(net.named_parameters())
    classes = torch.arange(real.shape[0], device=real.device)[:, None]

    def loss(weights: dict[str, torch.Tensor], x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(net, weights, (x,)), target)

    per_class_grad = vmap(grad(loss), in_dims=(None, 0, 0))
    with torch.no_grad():
        real_grads = per_class_grad(params, real, classes.expand(-1, real.shape[1]))
    syn_grads = per_class_grad(params, syn, classes.expand(-1, syn.shape[1]))
    return gradient_distance([syn_grads[n] for n in params], [real_grads[n] for n in params], batch_dims=1)


class _GradientMatching(Technique):
    Params = GMParams

    def distill(self, train_set, ipc, seed, budget: Budget, device, progress) -> DistilledSet:
        p: GMParams = self.params
        require_choice(p.class_batching, CLASS_BATCHING, f"techniques.{self.name}.class_batching")
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
            net = build_model(
                self.context.model, train_set.shape, num_classes, iteration_seed(seed, iteration, "net")
            ).to(device)
            net_optimiser = torch.optim.SGD(net.parameters(), lr=p.lr_net)
            total = 0.0
            for outer in range(outer_loop):
                reals, syns = [], []
                for c in range(num_classes):  # draws in the reference's order: a class's batch, then its augmentation
                    real = sampler.class_batch(c, p.batch_real, generator)
                    syn = learn.tensors["x"][c * ipc : (c + 1) * ipc]
                    if p.augment:
                        real, syn = siamese(augment_params, generator, real, syn)
                    reals.append(real)
                    syns.append(syn)
                loss = class_gradient_loss(net, reals, syns, p.class_batching)
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
