"""Selection baselines: greedy coresets (herding, k-center) in a random ConvNet's embedding, and class-mean
prototypes. (The random real subset is a reference row: :mod:`bench.sets.references`.)"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.features.store import TrainingSplits
from bench.models import build_model
from bench.techniques.base import Budget, Cost, DistilledSet, Technique
from bench.techniques.loop import iteration_generator, iteration_seed
from bench.techniques.registry import register_technique
from bench.typed import ranged


@dataclass(frozen=True)
class NoParams:
    pass


@dataclass(frozen=True)
class KMeansParams:
    kmeans_iterations: int = ranged(25, ge=0)


def _subset(train_set: TrainingSplits, index: torch.Tensor, name: str, params: dict) -> DistilledSet:
    return DistilledSet(
        train_set.train.x[index].clone(), train_set.train.y[index].clone(), name, params, Cost(0.0, 0, 0.0)
    )


@torch.no_grad()
def _embeddings(train_set: TrainingSplits, technique: Technique, seed: int, device: torch.device) -> torch.Tensor:
    net = (
        build_model(
            technique.context.model, train_set.shape, train_set.num_classes, iteration_seed(seed, 0, "embedding")
        )
        .to(device)
        .eval()
    )
    x = train_set.train.x
    return torch.cat([net.embed(x[i : i + 512].to(device)).cpu() for i in range(0, len(x), 512)])


def herding_order(features: torch.Tensor, k: int) -> torch.Tensor:
    """Greedy herding (Welling 2009): each pick brings the running mean closest to the class mean."""
    mean = features.mean(dim=0)
    chosen: list[int] = []
    total = torch.zeros_like(mean)
    available = torch.ones(len(features), dtype=torch.bool)
    for step in range(1, k + 1):
        candidate_means = (total + features) / step
        distance = (candidate_means - mean).norm(dim=1)
        distance[~available] = float("inf")
        pick = int(distance.argmin())
        chosen.append(pick)
        available[pick] = False
        total += features[pick]
    return torch.tensor(chosen)


def kcenter_order(features: torch.Tensor, k: int) -> torch.Tensor:
    """Greedy k-center (Sener & Savarese 2018): start nearest the class mean, then the farthest point."""
    first = int((features - features.mean(dim=0)).norm(dim=1).argmin())
    chosen = [first]
    nearest = (features - features[first]).norm(dim=1)
    for _ in range(k - 1):
        pick = int(nearest.argmax())
        chosen.append(pick)
        nearest = torch.minimum(nearest, (features - features[pick]).norm(dim=1))
    return torch.tensor(chosen)


class _EmbeddingCoreset(Technique):
    Params = NoParams
    order = staticmethod(herding_order)

    def distill(self, train_set, ipc, seed, budget, device, progress) -> DistilledSet:
        embedded = _embeddings(train_set, self, seed, device)
        picks = []
        for c in range(train_set.num_classes):
            members = torch.nonzero(train_set.train.y == c).flatten()
            picks.append(members[self.order(embedded[members], ipc)])
        return _subset(train_set, torch.cat(picks), self.name, {})


@register_technique
class Herding(_EmbeddingCoreset):
    name = "herding"
    description = "Herding coreset in a random ConvNet's embedding"
    order = staticmethod(herding_order)


@register_technique
class KCenter(_EmbeddingCoreset):
    name = "kcenter"
    description = "Greedy k-center coreset in a random ConvNet's embedding"
    order = staticmethod(kcenter_order)


def kmeans(points: torch.Tensor, k: int, iterations: int, generator: torch.Generator) -> torch.Tensor:
    """Lloyd's algorithm with k-means++ seeding; returns the k centroids."""
    flat = points.flatten(1)
    centres = [flat[int(torch.randint(len(flat), (1,), generator=generator))]]
    for _ in range(k - 1):
        distance = torch.cdist(flat, torch.stack(centres)).min(dim=1).values ** 2
        centres.append(flat[int(torch.multinomial(distance + 1e-12, 1, generator=generator))])
    centroids = torch.stack(centres)
    for _ in range(iterations):
        assign = torch.cdist(flat, centroids).argmin(dim=1)
        for j in range(k):
            members = flat[assign == j]
            if len(members):
                centroids[j] = members.mean(dim=0)
    return centroids.reshape(k, *points.shape[1:])


@register_technique
class Prototype(Technique):
    name = "prototype"
    description = "Class-mean spectrograms (k-means centroids per class when IPC > 1)"
    Params = KMeansParams

    def distill(self, train_set, ipc, seed, budget: Budget, device, progress) -> DistilledSet:
        xs, ys = [], []
        for c in range(train_set.num_classes):
            members = train_set.train.x[train_set.train.y == c]
            if ipc == 1:
                centres = members.mean(dim=0, keepdim=True)
            else:
                centres = kmeans(members, ipc, self.params.kmeans_iterations, iteration_generator(seed, c, "kmeans"))
            xs.append(centres)
            ys.append(torch.full((ipc,), c, dtype=torch.int64))
        return DistilledSet(torch.cat(xs), torch.cat(ys), self.name, self.describe(), Cost(0.0, 0, 0.0))
