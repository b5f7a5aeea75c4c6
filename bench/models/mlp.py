"""A multilayer perceptron on the flattened log-mel spectrogram: no convolution, no notion of time or
frequency, the family farthest from the ConvNet the sets are distilled with."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.models.base import ModelFamily, Network
from bench.models.registry import register_model
from bench.typed import ranged


@dataclass(frozen=True)
class MLPParams:
    hidden: tuple[int, ...] = ranged((256, 128), ge=1)


class MLP(Network):
    def __init__(self, in_shape: tuple[int, ...], num_classes: int, params: MLPParams) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = int(torch.tensor(in_shape).prod())
        for width in params.hidden:
            layers += [nn.Linear(size, width), nn.ReLU()]
            size = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(size, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x.flatten(1))


@register_model
class MLPFamily(ModelFamily):
    name = "mlp"
    description = "multilayer perceptron on the flattened log-mels"
    Params = MLPParams

    @classmethod
    def create(cls, in_shape, num_classes, params) -> MLP:
        return MLP(in_shape, num_classes, params)  # type: ignore[arg-type]
