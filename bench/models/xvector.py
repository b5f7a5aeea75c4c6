"""An x-vector-style network: 1-D convolutions over time with the mel bins as channels (growing dilation, batch
norm), then a statistics-pooling layer (mean and standard deviation over time) and an embedding layer. The
teacher family FRAMI's hidden-state reuse needs: :meth:`frames` gives the states before pooling, :meth:`embed`
the pooled embedding after it."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.models.base import ModelFamily, Network
from bench.models.registry import register_model
from bench.typed import ranged


@dataclass(frozen=True)
class XVectorParams:
    width: int = ranged(64, ge=1)
    depth: int = ranged(3, ge=1)
    kernel: int = ranged(3, ge=1)
    embedding: int = ranged(64, ge=1)


class XVector(Network):
    per_sample = False  # batch norm mixes the items of a batch

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, params: XVectorParams) -> None:
        super().__init__()
        channels, mels, _ = in_shape
        layers: list[nn.Module] = []
        current = channels * mels
        for level in range(params.depth):
            dilation = 2**level
            layers += [
                nn.Conv1d(
                    current, params.width, params.kernel, padding=dilation * (params.kernel // 2), dilation=dilation
                ),
                nn.BatchNorm1d(params.width),
                nn.ReLU(),
            ]
            current = params.width
        self.frame_layers = nn.Sequential(*layers)
        self.segment = nn.Sequential(
            nn.Linear(2 * current, params.embedding), nn.BatchNorm1d(params.embedding), nn.ReLU()
        )
        self.classifier = nn.Linear(params.embedding, num_classes)

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """(n, width, frames): the hidden states before statistics pooling."""
        return self.frame_layers(x.flatten(1, 2))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.frames(x)
        pooled = torch.cat([hidden.mean(dim=2), hidden.std(dim=2, unbiased=False)], dim=1)
        return self.segment(pooled)


@register_model
class XVectorFamily(ModelFamily):
    name = "xvector"
    description = "1-D dilated CNN over time, statistics pooling (mean and std over time), embedding layer"
    Params = XVectorParams

    @classmethod
    def create(cls, in_shape, num_classes, params) -> XVector:
        return XVector(in_shape, num_classes, params)  # type: ignore[arg-type]
