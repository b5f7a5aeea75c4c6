"""Audio-aware differentiable augmentation for log-mel spectrograms, shared by DSA, MTT and (optionally)
the evaluation protocol.

Ops: time shift, time stretch and a pitch-like frequency shift (one affine resampling of the
time-frequency plane), time and frequency masking, and gain (an additive offset in log-mel space). The
image ops of the reference code (flip, rotate, colour) are meaningless for spectrograms and absent.

Siamese use: draw one :class:`AugmentDraw` from a generator and apply it to both the real and the
synthetic batch. With ``per_sample=False`` a draw is one transform for the whole batch, so it applies
identically to batches of any size (real batches and synthetic sets rarely have the same size)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

OPS = ("time_shift", "time_stretch", "freq_shift", "time_mask", "freq_mask", "gain")


@dataclass(frozen=True)
class AugmentParams:
    ops: tuple[str, ...] = OPS
    one_op: bool = True  # DSA's default: one randomly chosen op per call
    time_shift: float = 0.125  # fraction of the frames
    time_stretch: float = 0.1  # factor in [1 - a, 1 + a]
    freq_shift: float = 0.06  # fraction of the mel bins
    time_mask: float = 0.2  # widest mask, fraction of the frames
    freq_mask: float = 0.2  # widest mask, fraction of the bins
    gain: float = 0.3  # additive offset in normalised log-mel units


@dataclass(frozen=True)
class AugmentDraw:
    """Sampled parameters; each tensor has one row per sample, or one row for the whole batch."""

    ops: tuple[str, ...]
    values: dict[str, torch.Tensor]


def draw(params: AugmentParams, batch: int, generator: torch.Generator, per_sample: bool = False) -> AugmentDraw:
    unknown = set(params.ops) - set(OPS)
    if unknown:
        raise ValueError(f"unknown augmentation op(s) {sorted(unknown)}; known: {', '.join(OPS)}")
    ops = params.ops
    if params.one_op and ops:
        ops = (ops[int(torch.randint(len(ops), (1,), generator=generator))],)
    n = batch if per_sample else 1

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    values: dict[str, torch.Tensor] = {}
    for op in ops:
        if op == "time_shift":
            values[op] = uniform(-params.time_shift, params.time_shift)
        elif op == "time_stretch":
            values[op] = uniform(1 - params.time_stretch, 1 + params.time_stretch)
        elif op == "freq_shift":
            values[op] = uniform(-params.freq_shift, params.freq_shift)
        elif op == "gain":
            values[op] = uniform(-params.gain, params.gain)
        else:  # masks: (start, width) as fractions
            width = uniform(0, params.time_mask if op == "time_mask" else params.freq_mask)
            values[op] = torch.stack([uniform(0, 1) * (1 - width), width], dim=1)
    return AugmentDraw(ops, values)


def rows_for(sampled: AugmentDraw, index: torch.Tensor) -> AugmentDraw:
    """The draw's row ``index[i]`` for item ``i``: e.g. one draw per class, indexed by each item's label."""
    return AugmentDraw(sampled.ops, {name: value[index.cpu()] for name, value in sampled.values.items()})


def apply(x: torch.Tensor, sampled: AugmentDraw) -> torch.Tensor:
    """Apply a draw to ``x`` (batch, channels, mels, frames); differentiable with respect to ``x``."""
    batch = x.shape[0]

    def rows(name: str) -> torch.Tensor:
        value = sampled.values[name].to(x.device, x.dtype)
        return value.expand(batch, *value.shape[1:]) if value.shape[0] == 1 else value

    if {"time_shift", "time_stretch", "freq_shift"} & set(sampled.ops):
        theta = torch.zeros(batch, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = 1 / rows("time_stretch") if "time_stretch" in sampled.ops else 1
        theta[:, 1, 1] = 1
        if "time_shift" in sampled.ops:
            theta[:, 0, 2] = -2 * rows("time_shift")  # grid coordinates span [-1, 1]
        if "freq_shift" in sampled.ops:
            theta[:, 1, 2] = -2 * rows("freq_shift")
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    for name, axis in (("time_mask", -1), ("freq_mask", -2)):
        if name in sampled.ops:
            start_width = rows(name)
            size = x.shape[axis]
            position = (torch.arange(size, device=x.device, dtype=x.dtype) + 0.5) / size
            start, width = start_width[:, :1], start_width[:, 1:]
            keep = ~((position >= start) & (position < start + width))  # (batch, size)
            shape = [batch, 1, 1, 1]
            shape[axis] = size
            x = x * keep.to(x.dtype).reshape(shape)
    if "gain" in sampled.ops:
        x = x + rows("gain").reshape(batch, 1, 1, 1)
    return x


def augment(
    x: torch.Tensor, params: AugmentParams, generator: torch.Generator, per_sample: bool = True
) -> torch.Tensor:
    return apply(x, draw(params, x.shape[0], generator, per_sample))
