"""Optional speed-ups of the sequential evaluation path, all off by default.

``channels_last`` (NHWC memory layout), ``bf16`` (bfloat16 autocast of the forward pass) and ``compile``
(``torch.compile`` of the training forward) are meant for accelerators: bf16 changes the arithmetic and so
the accuracies, and compile costs start-up time. ``chunked`` is the CPU one: each training batch goes
forward and backward in pieces small enough for the memory-bound ops to work in cache, which only
reorders the sum of the weight gradient (float rounding), so results stop matching the committed records
bit for bit. A record names the ones it used (``protocol.acceleration``) and the default grid uses none.
Measured in benchmarks/README.md."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from bench.errors import UserError

NAMES = ("channels_last", "bf16", "compile", "chunked")


@dataclass(frozen=True)
class Acceleration:
    channels_last: bool = False
    bf16: bool = False
    compile: bool = False
    chunked: bool = False

    @classmethod
    def parse(cls, text: str | None) -> Acceleration:
        """``"channels_last,bf16"`` -> Acceleration; empty or ``none`` -> all off."""
        names = [n.strip() for n in (text or "").split(",") if n.strip() and n.strip() != "none"]
        unknown = sorted(set(names) - set(NAMES))
        if unknown:
            raise UserError(f"--accelerate: unknown option(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
        return cls(**{name: True for name in names})

    @property
    def active(self) -> bool:
        return bool(self.names())

    def names(self) -> list[str]:
        return [name for name in NAMES if getattr(self, name)]

    def training_forward(self, model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
        """The callable to train ``model`` with (converted in place to the chosen layout; compiled if
        asked). The model itself stays uncompiled, for scoring."""
        run: Callable[[torch.Tensor], torch.Tensor] = torch.compile(model) if self.compile else model
        if not self.channels_last:
            return run
        model.to(memory_format=torch.channels_last)
        return lambda batch: run(batch.contiguous(memory_format=torch.channels_last))

    @contextlib.contextmanager
    def autocast(self, device: torch.device) -> Iterator[None]:
        if not self.bf16:
            yield
            return
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            yield

    def backward(
        self,
        forward: Callable[[torch.Tensor], torch.Tensor],
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        x: torch.Tensor,
        y: torch.Tensor,
        chunk: int,
    ) -> float:
        """Forward and backward of one training batch (gradients accumulate in the parameters); returns
        the batch's mean loss. ``chunked`` sends pieces of ``chunk`` items, each loss weighted by its share
        of the batch, so the accumulated gradient is the whole batch's mean-loss gradient; it is only
        valid for networks whose items do not interact (per-sample norm), which the caller checks."""
        pieces = list(zip(x.split(chunk), y.split(chunk), strict=True)) if self.chunked else [(x, y)]
        total = 0.0
        for x_part, y_part in pieces:
            with self.autocast(x.device):
                loss = loss_fn(forward(x_part), y_part)
            if len(pieces) > 1:
                loss = loss * (len(x_part) / len(x))
            loss.backward()
            total += float(loss.detach())
        return total


NONE = Acceleration()
