"""Nearest-mean score: classify test clips by the nearest class mean of the set, in the embedding of a random,
untrained network of the profile's architecture (the original README's "prototype networks using random
CNN"; named apart from the ``prototype`` technique, which makes class-mean sets). No training, so it
measures what the items are, not how well they train a network."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from bench.device import device_description, peak_memory_mb, reset_peak_memory
from bench.evaluation.tracks.base import Track, TrackResult
from bench.evaluation.tracks.registry import register_track
from bench.features.store import FeatureSet
from bench.sets.files import LabelledSet


@dataclass(frozen=True)
class NearestMeanParams:
    pass


@torch.no_grad()
def _embed(model: torch.nn.Module, x: torch.Tensor, device: torch.device, batch: int = 1024) -> torch.Tensor:
    return torch.cat([model.embed(x[i : i + batch].to(device)) for i in range(0, len(x), batch)])


@register_track
class NearestMeanTrack(Track):
    name = "nearest-mean"
    description = "nearest class mean of the set in a random, untrained network's embedding (no training)"
    protocol_id = "nearest-mean-random-net-v1"
    Params = NearestMeanParams
    requires = ("model:profile",)

    def describe(self) -> dict[str, Any]:
        return {"params": {"seeds": list(self.context.protocol.seeds)}, "model": self.context.model.describe()}

    @torch.no_grad()
    def evaluate(self, labelled: LabelledSet, features: FeatureSet) -> TrackResult:
        device = self.context.device
        reset_peak_memory(device)
        start = time.perf_counter()
        items = self.items(labelled, features)
        x, y = items.x.detach(), items.y.to(device)
        scores = []
        seeds = list(self.context.protocol.seeds)
        for seed in seeds:
            model = self.context.model.build(tuple(x.shape[1:]), features.num_classes, seed).to(device).eval()
            support = _embed(model, x, device)
            prototypes = torch.stack([support[y == c].mean(dim=0) for c in range(features.num_classes)])
            query = _embed(model, features.test.x, device)
            predicted = torch.cdist(query, prototypes).argmin(dim=1).cpu()
            scores.append(float((predicted == features.test.y).float().mean()))
        cost = {
            "wall_seconds": time.perf_counter() - start,
            "peak_memory_mb": peak_memory_mb(device),
            "device": device_description(device),
        }
        return TrackResult(seeds, {"test_accuracy": scores}, "test_accuracy", cost)
