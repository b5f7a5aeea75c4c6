"""Trajectory matching's unrolled student, with the backward pass recomputed one step at a time.

MTT differentiates the distance between where a student lands after ``steps`` SGD steps on the synthetic set
and where an expert was. Autograd over the whole unroll keeps every step's activations and their
double-backward graph, so memory grows with ``steps`` (6.5 GB at IPC 10, 20 steps, width 64). Here the forward
pass keeps only each step's parameter vector and the random state its batch was drawn from; the backward pass
walks the steps in reverse, rebuilds one step's graph at a time, and carries the adjoint of the parameters
(reverse mode through the unroll, by hand). Memory: one step's graph plus ``steps`` parameter vectors. The
gradients are the full unroll's up to the order of float sums (tested); the price is each step's forward and
first-order backward computed twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call

# (synthetic items, generator) -> (the step's batch, its labels): must draw from the generator alone, so that a
# replay from the same state draws the same batch.
Draw = Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class FlatNetwork:
    """A network called on one flat parameter vector (the layout of the expert trajectories)."""

    net: torch.nn.Module
    names: tuple[str, ...]
    shapes: tuple[torch.Size, ...]
    sizes: tuple[int, ...]

    @classmethod
    def of(cls, net: torch.nn.Module) -> FlatNetwork:
        named = list(net.named_parameters())
        names, shapes = tuple(n for n, _ in named), tuple(p.shape for _, p in named)
        return cls(net, names, shapes, tuple(p.numel() for _, p in named))

    def logits(self, flat: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        parts = flat.split(self.sizes)
        params = {n: t.view(s) for n, t, s in zip(self.names, parts, self.shapes, strict=True)}
        return functional_call(self.net, params, (batch,))


def trajectory_distance(end: torch.Tensor, start: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared distance from ``end`` to ``target``, over how far the expert moved from ``start``."""
    return ((end - target) ** 2).sum() / ((start - target) ** 2).sum().clamp_min(1e-12)


def recomputed_unroll(
    network: FlatNetwork,
    start: torch.Tensor,
    target: torch.Tensor,
    syn_x: torch.Tensor,
    syn_lr: torch.Tensor,
    steps: int,
    draw: Draw,
    generator: torch.Generator,
) -> float:
    """Unroll ``steps`` SGD steps of the student from ``start`` on batches ``draw`` takes from ``syn_x``; set
    ``syn_x.grad`` and ``syn_lr.grad`` to the gradient of :func:`trajectory_distance` and return its value."""
    states, weights = [], []
    weights_now = start.detach()
    for _ in range(steps):
        states.append(generator.get_state())
        weights.append(weights_now)
        batch, labels = draw(syn_x.detach(), generator)
        leaf = weights_now.detach().requires_grad_(True)
        grad = torch.autograd.grad(F.cross_entropy(network.logits(leaf, batch), labels), leaf)[0]
        weights_now = weights_now - syn_lr.detach() * grad
    end = weights_now.detach().requires_grad_(True)
    loss = trajectory_distance(end, start, target)
    (adjoint,) = torch.autograd.grad(loss, end)
    grad_x, grad_lr = torch.zeros_like(syn_x), torch.zeros_like(syn_lr)
    replay = torch.Generator(device=generator.device)
    for t in reversed(range(steps)):
        replay.set_state(states[t])
        x, lr = syn_x.detach().requires_grad_(True), syn_lr.detach().requires_grad_(True)
        leaf = weights[t].detach().requires_grad_(True)
        batch, labels = draw(x, replay)
        grad = torch.autograd.grad(F.cross_entropy(network.logits(leaf, batch), labels), leaf, create_graph=True)[0]
        adjoint, d_x, d_lr = torch.autograd.grad(leaf - lr * grad, (leaf, x, lr), grad_outputs=adjoint)
        grad_x += d_x
        grad_lr += d_lr
    syn_x.grad, syn_lr.grad = grad_x, grad_lr
    return float(loss.detach())
