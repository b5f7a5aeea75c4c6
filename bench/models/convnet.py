"""The ConvNet of the dataset-distillation literature: depth x [conv3x3 -> norm -> ReLU -> pool], then a
linear classifier whose input size comes from a dummy forward pass, so any spectrogram size works."""

from __future__ import annotations

import torch
from torch import nn

from bench.errors import UserError
from bench.params import ModelParams

# CPU forward passes are split into chunks whose first-layer activation stays near this size: the
# memory-bound ops (norm, ReLU, pooling) then work in cache. One width-64 forward of FSDD's 2,400 training
# spectrograms took 1.74 s whole and 0.81 s in chunks of 32 (2 threads).
CHUNK_ACTIVATION_BYTES = 8 * 2**20
MIN_CHUNK = 8

NORMS = ("instancenorm", "batchnorm", "layernorm", "groupnorm", "none")
POOLINGS = ("avgpool", "maxpool", "none")
ACTIVATIONS = ("relu", "leakyrelu", "sigmoid")


def _norm(kind: str, channels: int, height: int, width: int) -> nn.Module:
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


class ConvNet(nn.Module):
    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, params: ModelParams) -> None:
        super().__init__()
        if params.norm not in NORMS:
            raise UserError(f"model.norm: unknown {params.norm!r}; choose from {', '.join(NORMS)}")
        if params.pooling not in POOLINGS:
            raise UserError(f"model.pooling: unknown {params.pooling!r}; choose from {', '.join(POOLINGS)}")
        if params.activation not in ACTIVATIONS:
            raise UserError(f"model.activation: unknown {params.activation!r}; choose from {', '.join(ACTIVATIONS)}")
        if params.depth < 1 or params.width < 1:
            raise UserError(f"model: depth and width must be positive (got {params.depth}, {params.width})")
        channels, height, width = in_shape
        layers: list[nn.Module] = []
        for _ in range(params.depth):
            layers.append(nn.Conv2d(channels, params.width, kernel_size=3, padding=1))
            layers.append(_norm(params.norm, params.width, height, width))
            layers.append(_activation(params.activation))
            if params.pooling != "none":
                if height < 2 or width < 2:
                    raise UserError(
                        f"model: input {tuple(in_shape)} is too small for depth {params.depth} with pooling; "
                        "use fewer layers or larger spectrograms"
                    )
                layers.append(nn.AvgPool2d(2) if params.pooling == "avgpool" else nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            channels = params.width
        self.features = nn.Sequential(*layers)
        with torch.no_grad():
            embed_dim = self.features(torch.zeros(1, *in_shape)).flatten(1).shape[1]
        self.embed_dim = embed_dim
        self.classifier = nn.Linear(embed_dim, num_classes)
        self.per_sample = params.norm != "batchnorm"
        self.chunk = max(MIN_CHUNK, CHUNK_ACTIVATION_BYTES // (params.width * in_shape[1] * in_shape[2] * 4))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and len(x) > self.chunk and self.per_sample and not self._weights_need_grad():
            # Each item's computation is independent (per-sample norm, no weight gradient to sum over the
            # batch), so chunking gives bit-identical outputs and input gradients, only faster.
            return torch.cat([self.features(part).flatten(1) for part in x.split(self.chunk)])
        return self.features(x).flatten(1)

    def _weights_need_grad(self) -> bool:
        return torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


def build_convnet(in_shape: tuple[int, ...], num_classes: int, params: ModelParams, seed: int) -> ConvNet:
    """A ConvNet whose initial weights depend on ``seed`` alone (the global RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ConvNet(tuple(in_shape), num_classes, params)  # type: ignore[arg-type]
