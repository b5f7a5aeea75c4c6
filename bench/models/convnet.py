"""The ConvNet of the dataset-distillation literature: depth x [conv3x3 -> norm -> ReLU -> pool], then a
linear classifier whose input size comes from a dummy forward pass, so any spectrogram size works."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.errors import UserError
from bench.models.base import ModelFamily, Network
from bench.models.pooling import AvgPool2x2
from bench.models.registry import register_model
from bench.typed import ranged, require_choice

NORMS = ("instancenorm", "batchnorm", "layernorm", "groupnorm", "none")
POOLINGS = ("avgpool", "maxpool", "none")
ACTIVATIONS = ("relu", "leakyrelu", "sigmoid")


@dataclass(frozen=True)
class ConvNetParams:
    depth: int = ranged(3, ge=1)
    width: int = ranged(128, ge=1)
    norm: str = "instancenorm"
    pooling: str = "avgpool"
    activation: str = "relu"


def norm_layer(kind: str, channels: int, height: int, width: int) -> nn.Module:
    if kind == "instancenorm":  # GroupNorm with one group per channel, as in the reference code
        return nn.GroupNorm(channels, channels, affine=True)
    if kind == "batchnorm":
        return nn.BatchNorm2d(channels)
    if kind == "layernorm":
        return nn.LayerNorm([channels, height, width], elementwise_affine=True)
    if kind == "groupnorm":
        return nn.GroupNorm(4, channels, affine=True)
    return nn.Identity()


def _activation(kind: str) -> nn.Module:
    return {"relu": nn.ReLU, "leakyrelu": lambda: nn.LeakyReLU(0.01), "sigmoid": nn.Sigmoid}[kind]()


class ConvNet(Network):
    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, params: ConvNetParams) -> None:
        super().__init__()
        require_choice(params.norm, NORMS, "model.norm")
        require_choice(params.pooling, POOLINGS, "model.pooling")
        require_choice(params.activation, ACTIVATIONS, "model.activation")
        channels, height, width = in_shape
        layers: list[nn.Module] = []
        for _ in range(params.depth):
            layers.append(nn.Conv2d(channels, params.width, kernel_size=3, padding=1))
            layers.append(norm_layer(params.norm, params.width, height, width))
            layers.append(_activation(params.activation))
            if params.pooling != "none":
                if height < 2 or width < 2:
                    raise UserError(
                        f"model: input {tuple(in_shape)} is too small for depth {params.depth} with pooling; "
                        "use fewer layers or larger spectrograms"
                    )
                layers.append(AvgPool2x2() if params.pooling == "avgpool" else nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            channels = params.width
        self.features = nn.Sequential(*layers)
        with torch.no_grad():
            embed_dim = self.features(torch.zeros(1, *in_shape)).flatten(1).shape[1]
        self.embed_dim = embed_dim
        self.classifier = nn.Linear(embed_dim, num_classes)
        self.per_sample = params.norm != "batchnorm"
        self.set_chunk(params.width, in_shape)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and len(x) > self.chunk and self.per_sample and not self.weights_need_grad():
            # Each item's computation is independent (per-sample norm, no weight gradient to sum over the
            # batch), so chunking gives bit-identical outputs and input gradients, only faster.
            return torch.cat([self.features(part).flatten(1) for part in x.split(self.chunk)])
        return self.features(x).flatten(1)


@register_model
class ConvNetFamily(ModelFamily):
    name = "convnet"
    description = "depth x [conv3x3, norm, ReLU, avg-pool 2], linear classifier (the DD literature's ConvNet)"
    Params = ConvNetParams

    @classmethod
    def create(cls, in_shape, num_classes, params) -> ConvNet:
        return ConvNet(in_shape, num_classes, params)  # type: ignore[arg-type]
