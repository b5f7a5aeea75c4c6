"""Data-free distillation by model inversion: synthetic log-mels optimised from noise until a teacher
(trained on the real training split) recognises them, never reading a real clip.

* ``frami`` (Kang et al., ICASSP 2023, arXiv 2303.07643): class cross-entropy, batch-norm statistic matching
  (DeepInversion: every batch-norm layer's batch mean and variance pulled to its running statistics), and
  FRAMI's feature-invariant contrastive loss: two audio-aware augmented views of one item keep their teacher
  embeddings close while different items are pushed apart (InfoNCE), which makes the items feature-rich and
  diverse instead of IPC copies of one class prototype.
* ``deepinversion``: the same without the contrastive term (the ablation of FRAMI's addition).
* ``teacher-noise``: class cross-entropy alone, the same budget: the baseline inversion must beat.

The items carry the teacher's soft labels (set format v2). The teacher must have batch-norm layers for the
statistic term (the default teacher, the profile's ConvNet with batch norm, has)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import UserError
from bench.techniques.augment import AugmentParams, augment
from bench.techniques.base import Budget, DistilledSet
from bench.techniques.data_free import DataFreeTechnique
from bench.techniques.loop import Learnables, iteration_generator
from bench.techniques.matching import finish, run_loop
from bench.techniques.registry import register_technique
from bench.typed import ranged

QUICK_TEACHER = {"epochs": 60}  # the kd track's quick teacher (params.yaml tracks.kd), so both share one


@dataclass(frozen=True)
class InversionParams:
    iterations: int = ranged(2000, ge=1)
    lr_img: float = ranged(5.0, gt=0)
    momentum: float = ranged(0.9, ge=0, le=1)
    bn_weight: float = ranged(1.0, ge=0)  # batch-norm statistic matching
    contrastive_weight: float = ranged(0.1, ge=0)  # FRAMI's feature-invariant contrastive loss
    contrastive_temperature: float = ranged(0.1, gt=0)
    augment: bool = True  # the views of every iteration go through the audio-aware augmentation
    teacher: Mapping[str, Any] = field(default_factory=dict)  # TeacherParams (`tracks.kd.teacher` keys)


@dataclass(frozen=True)
class DeepInversionParams(InversionParams):
    contrastive_weight: float = ranged(0.0, ge=0)


@dataclass(frozen=True)
class TeacherNoiseParams(InversionParams):
    bn_weight: float = ranged(0.0, ge=0)
    contrastive_weight: float = ranged(0.0, ge=0)


class BatchNormStatistics:
    """Forward hooks on a network's batch-norm layers: the distance of each layer's batch statistics from its
    running ones, summed over layers (collected while ``active``)."""

    def __init__(self, network: nn.Module) -> None:
        self.layers = [m for m in network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.terms: list[torch.Tensor] = []
        self.active = False
        self.handles = [layer.register_forward_hook(self._hook) for layer in self.layers]

    def _hook(self, layer: nn.Module, inputs: tuple[torch.Tensor, ...], _: torch.Tensor) -> None:
        if not self.active:
            return
        x = inputs[0]
        dims = [0, *range(2, x.dim())]
        mean, var = x.mean(dim=dims), x.var(dim=dims, unbiased=False)
        self.terms.append(torch.norm(mean - layer.running_mean, 2) + torch.norm(var - layer.running_var, 2))

    def take(self) -> torch.Tensor:
        total = torch.stack(self.terms).sum()
        self.terms = []
        return total

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


def contrastive_loss(first: torch.Tensor, second: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE: row i of ``first`` and of ``second`` (two views of item i) are the positive pair."""
    a, b = F.normalize(first, dim=1), F.normalize(second, dim=1)
    logits = a @ b.T / temperature
    target = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


@register_technique
class FRAMI(DataFreeTechnique):
    name = "frami"
    description = "data-free: teacher inversion with BN-statistic matching and a feature-invariant contrastive loss"
    Params = InversionParams
    profile_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "quick": {"iterations": 500, "teacher": QUICK_TEACHER},
        "standard": {"iterations": 4000},
    }

    def distill(self, train_set, ipc, seed, budget: Budget, device, progress) -> DistilledSet:
        p: InversionParams = self.params
        assert self.teacher is not None
        network = self.teacher.network.to(device).eval()
        network.requires_grad_(False)
        statistics = BatchNormStatistics(network)
        if p.bn_weight > 0 and not statistics.layers:
            statistics.close()
            raise UserError(f"techniques.{self.name}.bn_weight: the teacher has no batch-norm layer to match")
        iterations = budget.iterations if budget.iterations is not None else p.iterations
        num_classes = train_set.num_classes
        y = torch.arange(num_classes, device=device).repeat_interleave(ipc)
        noise = torch.Generator().manual_seed(seed)
        x0 = torch.randn(len(y), *train_set.shape, generator=noise).to(device)
        learn = Learnables.create({"x": (x0, p.lr_img, p.momentum)})
        augmentation = AugmentParams()

        def view(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
            return augment(x, augmentation, generator, per_sample=True) if p.augment else x

        def step(iteration: int) -> float:
            generator = iteration_generator(seed, iteration, "views")
            x = learn.tensors["x"]
            statistics.active = p.bn_weight > 0
            embedding = network.embed(view(x, generator))
            statistics.active = False
            loss = F.cross_entropy(network.classifier(embedding), y)
            if p.bn_weight > 0:
                loss = loss + p.bn_weight * statistics.take()
            if p.contrastive_weight > 0:
                other = network.embed(view(x, generator))
                loss = loss + p.contrastive_weight * contrastive_loss(embedding, other, p.contrastive_temperature)
            learn.zero_grad()
            loss.backward()
            learn.step()
            return float(loss.detach())

        try:
            history = run_loop(self, train_set, ipc, seed, learn, y, iterations, step, progress)
        finally:
            statistics.close()
        result = finish(self, learn.tensors["x"], y, history, iterations)
        result.soft = torch.softmax(self.teacher.logits(result.x.to(device)), dim=1).cpu()
        return result


@register_technique
class DeepInversion(FRAMI):
    name = "deepinversion"
    description = "data-free: teacher inversion with BN-statistic matching (FRAMI without its contrastive loss)"
    Params = DeepInversionParams


@register_technique
class TeacherNoise(FRAMI):
    name = "teacher-noise"
    description = "data-free baseline: noise optimised for the teacher's class cross-entropy alone"
    Params = TeacherNoiseParams
