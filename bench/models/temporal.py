"""A 1-D temporal CNN: the mel bins are the input channels and convolutions run over time only (the
keyword-spotting family, e.g. TC-ResNet), then a global average over time. A different inductive bias from
the 2-D ConvNet: no translation invariance along frequency."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.models.base import ModelFamily, Network
from bench.models.registry import register_model
from bench.typed import ranged


@dataclass(frozen=True)
class TemporalCNNParams:
    width: int = ranged(64, ge=1)
    depth: int = ranged(3, ge=1)
    kernel: int = ranged(3, ge=1)


class TemporalCNN(Network):
    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, params: TemporalCNNParams) -> None:
        super().__init__()
        channels, mels, frames = in_shape
        layers: list[nn.Module] = []
        current = channels * mels
        for _ in range(params.depth):
            layers += [
                nn.Conv1d(current, params.width, params.kernel, padding=params.kernel // 2),
                nn.GroupNorm(params.width, params.width),
                nn.ReLU(),
            ]
            if frames >= 2:
                layers.append(nn.AvgPool1d(2))
                frames //= 2
            current = params.width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(current, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x.flatten(1, 2)).mean(dim=2)


@register_model
class TemporalCNNFamily(ModelFamily):
    name = "temporal-cnn"
    description = "1-D CNN over time with the mel bins as channels, global average over time"
    Params = TemporalCNNParams

    @classmethod
    def create(cls, in_shape, num_classes, params) -> TemporalCNN:
        return TemporalCNN(in_shape, num_classes, params)  # type: ignore[arg-type]
