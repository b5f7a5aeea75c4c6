"""Cross-architecture generalisation: the same set trains a pool of networks other than the one it was
distilled with (ConvNet width/depth/norm variants, a small ResNet, an MLP on the log-mels, a 1-D temporal
CNN), each under the protocol's recipe. Reports each architecture's final-epoch test accuracy and, as the
main score, their mean per evaluation seed. The DC/DSA/DM papers' and DC-BENCH's cross-architecture table."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.device import device_description, peak_memory_mb, reset_peak_memory
from bench.errors import UserError
from bench.evaluation.protocol import evaluate_set
from bench.evaluation.tracks.base import Track, TrackResult
from bench.evaluation.tracks.registry import register_track
from bench.features.store import FeatureSet
from bench.models import ModelSpec
from bench.params import ProtocolParams
from bench.sets.files import LabelledSet
from bench.typed import ranged

# Name -> model spec; ConvNet entries start from the profile's ConvNet and change one thing.
DEFAULT_POOL: dict[str, dict[str, Any]] = {
    "convnet-w16": {"architecture": "convnet", "width": 16},
    "convnet-d2": {"architecture": "convnet", "depth": 2},
    "convnet-bn": {"architecture": "convnet", "norm": "batchnorm"},
    "resnet": {"architecture": "resnet"},
    "mlp": {"architecture": "mlp"},
    "temporal-cnn": {"architecture": "temporal-cnn"},
}


@dataclass(frozen=True)
class CrossArchParams:
    architectures: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: dict(DEFAULT_POOL))
    seeds: tuple[int, ...] | None = None  # None: the protocol's evaluation seeds
    epochs: int | None = ranged(None, ge=1)  # None: the protocol's epochs


@register_track
class CrossArchTrack(Track):
    name = "cross-arch"
    description = "the set trains a pool of other architectures; mean final-epoch test accuracy over the pool"
    protocol_id = "cross-arch-sgd-v1"
    Params = CrossArchParams
    requires = ("model:convnet", "model:resnet", "model:mlp", "model:temporal-cnn")

    def pool(self) -> dict[str, ModelSpec]:
        if not self.params.architectures:
            raise UserError("tracks.cross-arch.architectures: the pool is empty")
        return {
            name: ModelSpec.parse(spec, f"tracks.cross-arch.architectures.{name}", base=self.context.model)
            for name, spec in sorted(self.params.architectures.items())
        }

    def model_specs(self) -> list[ModelSpec]:
        return list(self.pool().values())

    def recipe(self) -> ProtocolParams:
        protocol = self.context.protocol
        changes = {"seeds": self.params.seeds, "epochs": self.params.epochs}
        return dataclasses.replace(protocol, **{k: v for k, v in changes.items() if v is not None})

    def describe(self) -> dict[str, Any]:
        return {
            "params": dataclasses.asdict(self.recipe()),
            "model": {name: spec.describe() for name, spec in self.pool().items()},
        }

    def evaluate(self, labelled: LabelledSet, features: FeatureSet) -> TrackResult:
        device = self.context.device
        reset_peak_memory(device)
        start = time.perf_counter()
        items = self.items(labelled, features)
        recipe = self.recipe()
        metrics: dict[str, list[float]] = {}
        seconds: list[float] = [0.0] * len(recipe.seeds)
        for name, spec in self.pool().items():
            result = evaluate_set(
                items.x.detach(), items.y, features, spec, recipe, device, items.lr, vectorise=self.context.vectorise
            )
            metrics[f"test_accuracy/{name}"] = [s.test_accuracy for s in result.seeds]
            metrics[f"validation_accuracy/{name}"] = [s.validation_accuracy for s in result.seeds]
            seconds = [total + s.train_seconds for total, s in zip(seconds, result.seeds, strict=True)]
        names = list(self.pool())
        for kind in ("test_accuracy", "validation_accuracy"):
            per_arch = [metrics[f"{kind}/{name}"] for name in names]
            metrics[kind] = [sum(values) / len(values) for values in zip(*per_arch, strict=True)]
        cost = {
            "train_seconds_per_seed": seconds,
            "wall_seconds": time.perf_counter() - start,
            "peak_memory_mb": peak_memory_mb(device),
            "device": device_description(device),
        }
        return TrackResult(list(recipe.seeds), metrics, "test_accuracy", cost)
