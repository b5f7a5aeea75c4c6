"""The contract of every network the suite builds: a family registered by name with typed params, and the
:class:`Network` it creates (an ``embed`` before the classifier, plus what the speed-ups need to know)."""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from bench.typed import parse_section

# CPU forward passes are split into chunks whose first-layer activation stays near this size: the
# memory-bound ops (norm, ReLU, pooling) then work in cache. One width-64 forward of FSDD's 2,400 training
# spectrograms took 1.74 s whole and 0.81 s in chunks of 32 (2 threads).
CHUNK_ACTIVATION_BYTES = 8 * 2**20
MIN_CHUNK = 8


class Network(nn.Module):
    """``embed(x)`` gives the features the classifier reads; ``forward`` the logits. ``per_sample`` says the
    items of a batch never interact (no batch norm), which makes chunked and vectorised training exact;
    ``chunk`` is the CPU piece size for cache-friendly forward passes."""

    per_sample: bool = True
    chunk: int = 256

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))

    def set_chunk(self, first_layer_channels: int, in_shape: tuple[int, ...]) -> None:
        elements = first_layer_channels * int(torch.tensor(in_shape[1:]).prod())
        self.chunk = max(MIN_CHUNK, CHUNK_ACTIVATION_BYTES // (elements * 4))

    def weights_need_grad(self) -> bool:
        return torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())


class ModelFamily(abc.ABC):
    """A registered architecture: ``name``, a typed ``Params`` dataclass and :meth:`create`."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type]

    @classmethod
    @abc.abstractmethod
    def create(cls, in_shape: tuple[int, ...], num_classes: int, params: Any) -> Network: ...


@dataclass(frozen=True)
class ModelSpec:
    """An architecture name with its resolved params: what a profile, a track or a teacher asks for."""

    architecture: str
    params: Any

    @classmethod
    def parse(cls, raw: Any, where: str, base: ModelSpec | None = None) -> ModelSpec:
        """``{architecture: NAME, **params}``; the architecture defaults to ``base``'s (else ``convnet``), and a
        spec of ``base``'s architecture starts from ``base``'s params (``{width: 16}`` is a narrower variant)."""
        from bench.models.registry import MODELS

        raw = dict(raw or {})
        architecture = raw.pop("architecture", base.architecture if base else "convnet")
        family = MODELS.get(architecture)
        if base is not None and base.architecture == architecture:
            raw = {**dataclasses.asdict(base.params), **raw}
        return cls(architecture, parse_section(family.Params, raw, where))

    def describe(self) -> dict[str, Any]:
        return {"architecture": self.architecture, **dataclasses.asdict(self.params)}

    def build(self, in_shape: tuple[int, ...], num_classes: int, seed: int) -> Network:
        """A network whose initial weights depend on ``seed`` alone (the global RNG is left untouched)."""
        from bench.models.registry import MODELS

        family = MODELS.get(self.architecture)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return family.create(tuple(in_shape), num_classes, self.params)
