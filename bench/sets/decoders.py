"""Decoders of factorised sets: a stored item decodes into one or more training items, so a set can spend
its stored bytes on more (or smaller) items, as IDC's multi-formation does for images. Decoding is
differentiable, so a technique can learn the stored items through it. A set's budget is reported both in
items per class and in stored bytes, which is what makes factorised sets comparable.

A decoder is a class with a ``name``, typed ``Options`` and the three methods below; others register through
the ``distrackted.decoders`` entry-point group."""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from bench.errors import UserError
from bench.registry import Registry
from bench.typed import parse_section, ranged


class Decoder(abc.ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type]

    def __init__(self, options: Any) -> None:
        self.options = options

    @classmethod
    def from_spec(cls, spec: dict[str, Any], where: str) -> Decoder:
        """``{"name": NAME, **options}`` as stored in a set file."""
        spec = dict(spec)
        decoder = DECODERS.get(str(spec.pop("name", "")))
        return decoder(parse_section(decoder.Options, spec, where))

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, **dataclasses.asdict(self.options)}

    @abc.abstractmethod
    def items_per_stored(self) -> int: ...

    @abc.abstractmethod
    def decoded_shape(self, stored: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of one decoded item, given one stored item's; a UserError when it cannot decode."""

    @abc.abstractmethod
    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """(n, *stored) -> (n * items_per_stored, *decoded), the k items of stored item i at rows i*k..i*k+k-1."""


DECODERS: Registry[type[Decoder]] = Registry("decoder", "distrackted.decoders", "bench.sets.decoders", Decoder)


@dataclass(frozen=True)
class SegmentOptions:
    factor: int = ranged(2, ge=2)


@DECODERS.register
class TimeSegments(Decoder):
    """One stored spectrogram holds ``factor`` consecutive time segments; each is stretched back to the full
    length (linear interpolation over time) and becomes a training item of its own."""

    name = "time-segments"
    description = "stored item = k time segments, each stretched to a full-length training item"
    Options = SegmentOptions

    def items_per_stored(self) -> int:
        return self.options.factor

    def decoded_shape(self, stored: tuple[int, ...]) -> tuple[int, ...]:
        if len(stored) != 3 or stored[-1] % self.options.factor:
            raise UserError(f"time-segments: stored items {stored} do not split into {self.options.factor} segments")
        return stored

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        n, channels, mels, frames = x.shape
        k = self.options.factor
        segments = x.reshape(n, channels, mels, k, frames // k).permute(0, 3, 1, 2, 4)
        segments = segments.reshape(n * k, channels * mels, frames // k)
        stretched = F.interpolate(segments, size=frames, mode="linear", align_corners=True)
        return stretched.reshape(n * k, channels, mels, frames)


@dataclass(frozen=True)
class UpsampleOptions:
    factor: int = ranged(2, ge=2)


@DECODERS.register
class Upsample(Decoder):
    """One stored low-resolution spectrogram (mels/f x frames/f) decodes into one full-resolution item by
    bilinear upsampling: f^2 items fit in the bytes of one."""

    name = "upsample"
    description = "stored item = a (mels/f x frames/f) grid, bilinearly upsampled to one training item"
    Options = UpsampleOptions

    def items_per_stored(self) -> int:
        return 1

    def decoded_shape(self, stored: tuple[int, ...]) -> tuple[int, ...]:
        if len(stored) != 3:
            raise UserError(f"upsample: stored items must be (channels, mels, frames), got {stored}")
        return (stored[0], stored[1] * self.options.factor, stored[2] * self.options.factor)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.options.factor, mode="bilinear", align_corners=False)
