"""Labelled sets on disk (distilled or reference subsets): safetensors only, never pickle.

A set file holds ``x`` (n, 1, n_mels, frames) float32 in the dataset's normalised feature space, ``y``
(n,) int64 and optionally a learned learning rate ``lr`` (scalar), plus JSON metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors
import torch
from safetensors.torch import load_file, save_file

from bench.atomic import atomic_path
from bench.errors import UserError

_PICKLE_PROTOCOL_MARK = b"\x80"
_ZIP_MARK = b"PK\x03\x04"  # torch.save's default container, pickles inside


@dataclass
class LabelledSet:
    x: torch.Tensor
    y: torch.Tensor
    lr: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ipc(self) -> int:
        return int(torch.bincount(self.y).max()) if self.y.numel() else 0


def save_set(path: Path, labelled: LabelledSet) -> None:
    tensors = {"x": labelled.x.detach().cpu().float().contiguous(), "y": labelled.y.detach().cpu().long()}
    if labelled.lr is not None:
        tensors["lr"] = torch.tensor(float(labelled.lr))
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"distrack": json.dumps(labelled.metadata, sort_keys=True)})


def _safetensors_layout(head: bytes, size: int) -> bool:
    """A safetensors file opens with its JSON header's length (u64, little endian) and then ``{``. That
    length's low byte can be 0x80, the pickle mark, so the layout is checked before the marks."""
    if len(head) < 9:
        return False
    return head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size


def load_set(path: Path, *, shape: tuple[int, ...] | None = None, num_classes: int | None = None) -> LabelledSet:
    """Load and validate a set file; every problem is an error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: set file not found")
    head = path.read_bytes()[:9]
    if not _safetensors_layout(head, path.stat().st_size) and (
        head.startswith(_PICKLE_PROTOCOL_MARK) or head.startswith(_ZIP_MARK)
    ):
        raise UserError(
            f"{path}: looks like a pickle / torch.save file; only .safetensors sets are accepted "
            "(pickles can run arbitrary code and are never loaded)"
        )
    try:
        tensors = load_file(str(path))
        with safetensors.safe_open(str(path), framework="pt") as handle:
            raw_meta = (handle.metadata() or {}).get("distrack", "{}")
        metadata = json.loads(raw_meta)
    except (safetensors.SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable safetensors file ({exc})") from exc
    for name in ("x", "y"):
        if name not in tensors:
            raise UserError(f"{path}: missing tensor {name!r} (expected x, y and optionally lr)")
    x, y = tensors["x"], tensors["y"]
    if x.dim() != 4 or not x.is_floating_point():
        raise UserError(f"{path}: x must be a float tensor (n, 1, n_mels, frames), got {x.dtype} {tuple(x.shape)}")
    if y.dim() != 1 or y.is_floating_point() or len(y) != len(x):
        raise UserError(f"{path}: y must be {len(x)} integer labels, got {y.dtype} {tuple(y.shape)}")
    if not torch.isfinite(x).all():
        raise UserError(f"{path}: x contains NaN or infinite values")
    if shape is not None and tuple(x.shape[1:]) != tuple(shape):
        raise UserError(
            f"{path}: items have shape {tuple(x.shape[1:])} but the dataset's features are "
            f"{tuple(shape)} (check the profile and feature parameters)"
        )
    if num_classes is not None:
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise UserError(f"{path}: labels must lie in [0, {num_classes}), got [{int(y.min())}, {int(y.max())}]")
        missing = sorted(set(range(num_classes)) - set(y.tolist()))
        if missing:
            raise UserError(f"{path}: class(es) {missing} have no items")
    lr = None
    if "lr" in tensors:
        value = float(tensors["lr"].reshape(-1)[0])
        if not value > 0:
            raise UserError(f"{path}: learned lr must be positive, got {value}")
        lr = value
    return LabelledSet(x.float(), y.long(), lr, metadata)
