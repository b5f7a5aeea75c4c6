"""The main track: fresh networks of the profile's architecture trained on the set under the fixed recipe,
final-epoch accuracy on the real test split (mean ± std over the protocol's seeds)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from bench.device import device_description
from bench.evaluation.protocol import ProtocolResult, evaluate_set
from bench.evaluation.tracks.base import Track, TrackResult
from bench.evaluation.tracks.registry import register_track
from bench.features.store import FeatureSet
from bench.sets.files import LabelledSet


@dataclass(frozen=True)
class ConvNetTrackParams:
    # Evaluation-time augmentation (the reference code trains DSA/DM sets' evaluation networks with DSA):
    # every training batch through the audio-aware augmentation. Off in the default grid.
    augment: bool = False


def protocol_cost(result: ProtocolResult, device: str) -> dict[str, Any]:
    return {
        "train_seconds_per_seed": [s.train_seconds for s in result.seeds],
        "wall_seconds": result.wall_seconds,
        "peak_memory_mb": result.peak_memory_mb,
        "device": device,
    }


def summed_confusion(result: ProtocolResult) -> list[list[int]]:
    first = result.seeds[0].confusion
    return [[sum(s.confusion[i][j] for s in result.seeds) for j in range(len(first))] for i in range(len(first))]


@register_track
class ConvNetTrack(Track):
    name = "convnet"
    description = "the profile's ConvNet trained on the set (SGD recipe), final-epoch test accuracy"
    protocol_id = "convnet-sgd-v1"
    Params = ConvNetTrackParams
    requires = ("model:profile",)

    def protocol(self) -> str:
        suffixes = (["augment"] if self.params.augment else []) + self.context.acceleration.names()
        return "+".join([self.protocol_id, *suffixes])

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "params": {**dataclasses.asdict(self.params), **dataclasses.asdict(self.context.protocol)},
            "model": self.context.model.describe(),
        }
        if self.context.acceleration.active:  # changes the arithmetic (bf16) or the summation order (chunked)
            described["acceleration"] = self.context.acceleration.names()
        return described

    def evaluate(self, labelled: LabelledSet, features: FeatureSet) -> TrackResult:
        items = self.items(labelled, features)
        context = self.context
        result = evaluate_set(
            items.x.detach(),
            items.y,
            features,
            context.model,
            context.protocol,
            context.device,
            items.lr,
            progress=context.progress,
            vectorise=context.vectorise,
            acceleration=context.acceleration,
            augment_batches=self.params.augment,
        )
        return TrackResult(
            seeds=[s.seed for s in result.seeds],
            metrics={
                "test_accuracy": [s.test_accuracy for s in result.seeds],
                "validation_accuracy": [s.validation_accuracy for s in result.seeds],
            },
            main_score="test_accuracy",
            cost=protocol_cost(result, device_description(context.device)),
            extras={"confusion": summed_confusion(result)},
        )
