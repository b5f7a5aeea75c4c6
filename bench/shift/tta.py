"""Test-time adaptation: update only the normalisation layers' affine parameters of a trained network on
unlabelled batches of shifted test audio, minimising one of NTTA's losses of the batch's prediction matrix
``A`` (batch x classes, softmax rows):

* ``entropy`` (Tent): the mean over the batch of ``-sum_i p_i log p_i``;
* ``generalized-entropy``: the mean of ``(1 - sum_i p_i^q) / (q - 1)`` (Tsallis; Shannon's as q -> 1; q < 1 is
  more robust to wrong pseudo-labels, q > 1 more sensitive to confident predictions);
* ``frobenius-norm``: ``-||A||_F``, the loss the NTTA document writes under the name "nuclear norm";
* ``nuclear-norm``: ``-||A||_*`` (the sum of singular values), batch nuclear-norm maximisation as Cui et al.
  (CVPR 2020) define it.

Episodic: the caller restores the weights before each corruption and severity."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import torch
from torch import nn

NORM_LAYERS = (nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.InstanceNorm2d)


def entropy(probabilities: torch.Tensor, q: float) -> torch.Tensor:
    return -(probabilities * torch.log(probabilities.clamp_min(1e-12))).sum(dim=1).mean()


def generalized_entropy(probabilities: torch.Tensor, q: float) -> torch.Tensor:
    return ((1 - (probabilities**q).sum(dim=1)) / (q - 1)).mean()


def frobenius_norm(probabilities: torch.Tensor, q: float) -> torch.Tensor:
    return -torch.linalg.matrix_norm(probabilities, ord="fro")


def nuclear_norm(probabilities: torch.Tensor, q: float) -> torch.Tensor:
    return -torch.linalg.matrix_norm(probabilities, ord="nuc")


LOSSES: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "entropy": entropy,
    "generalized-entropy": generalized_entropy,
    "frobenius-norm": frobenius_norm,
    "nuclear-norm": nuclear_norm,
}


def norm_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The affine parameters of every normalisation layer: the only ones adaptation may change."""
    return [p for m in model.modules() if isinstance(m, NORM_LAYERS) for p in m.parameters(recurse=False)]


def _batches(x: torch.Tensor, size: int) -> Iterator[torch.Tensor]:
    for start in range(0, len(x), size):
        yield x[start : start + size]


def adapt(model: nn.Module, x: torch.Tensor, loss: str, steps: int, lr: float, batch: int, q: float) -> nn.Module:
    """A copy of ``model`` adapted on the unlabelled ``x`` (``steps`` passes over it in fixed order)."""
    adapted = copy.deepcopy(model)
    adapted.requires_grad_(False)
    parameters = norm_parameters(adapted)
    for parameter in parameters:
        parameter.requires_grad_(True)
    if not parameters:
        return adapted
    optimiser = torch.optim.SGD(parameters, lr=lr, momentum=0.9)
    objective = LOSSES[loss]
    adapted.train()  # norm layers with running statistics use the batch's, as Tent does
    for _ in range(steps):
        for part in _batches(x, batch):
            optimiser.zero_grad(set_to_none=True)
            objective(torch.softmax(adapted(part), dim=1), q).backward()
            optimiser.step()
    adapted.eval()
    return adapted
