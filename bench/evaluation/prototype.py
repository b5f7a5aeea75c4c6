"""Prototype evaluation: classify test clips by the nearest class mean of the given set, in the embedding
of a random, untrained ConvNet (the original README's "prototype networks using random CNN")."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch

from bench.features.store import FeatureSet
from bench.models import build_convnet
from bench.params import ModelParams


@dataclass
class PrototypeResult:
    per_seed: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.per_seed)

    @property
    def std(self) -> float:
        return statistics.pstdev(self.per_seed) if len(self.per_seed) > 1 else 0.0


@torch.no_grad()
def _embed(model: torch.nn.Module, x: torch.Tensor, device: torch.device, batch: int = 1024) -> torch.Tensor:
    return torch.cat([model.embed(x[i : i + batch].to(device)) for i in range(0, len(x), batch)])


@torch.no_grad()
def evaluate_prototypes(
    x: torch.Tensor,
    y: torch.Tensor,
    features: FeatureSet,
    model_params: ModelParams,
    seeds: tuple[int, ...],
    device: torch.device,
) -> PrototypeResult:
    scores = []
    for seed in seeds:
        model = build_convnet(tuple(x.shape[1:]), features.num_classes, model_params, seed).to(device).eval()
        support = _embed(model, x, device)
        prototypes = torch.stack([support[y.to(device) == c].mean(dim=0) for c in range(features.num_classes)])
        query = _embed(model, features.test.x, device)
        predicted = torch.cdist(query, prototypes).argmin(dim=1).cpu()
        scores.append(float((predicted == features.test.y).float().mean()))
    return PrototypeResult(scores)
