"""Labelled sets on disk (distilled or reference subsets): safetensors only, never pickle.

Set format v2 (version 1 files keep loading):

* ``x`` float32: stored items, ``(n, 1, n_mels, frames)`` log-mels in the dataset's normalised feature space
  (domain ``logmel``) or ``(n, samples)`` waveforms at the feature sample rate (domain ``waveform``);
* ``y`` int64 ``(n,)`` hard labels and/or ``soft`` float32 ``(n, classes)`` probabilities (a teacher's
  labels); a soft-only set's hard labels are the argmax;
* optional scalar ``lr`` (a learned learning rate);
* metadata: one entry, ``distrack.v2``, a JSON object with ``format`` (2), ``domain``, ``decoder`` (for
  factorised sets whose stored items decode into training items, :mod:`bench.sets.decoders`) and ``set``
  (technique, params, seed ...; never timings). One entry because safetensors writes metadata entries in
  hash-map order: with one, identical runs write identical bytes. Version 1 files have ``distrack`` (the
  ``set`` object alone)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors
import torch
from safetensors.torch import load_file, save_file

from bench.atomic import atomic_path
from bench.errors import UserError
from bench.sets.decoders import Decoder

FORMAT_VERSION = 2
V2_KEY = "distrack.v2"
DOMAINS = ("logmel", "waveform")
SOFT_TOLERANCE = 1e-4  # rows of soft labels must sum to 1 within this
_PICKLE_PROTOCOL_MARK = b"\x80"
_ZIP_MARK = b"PK\x03\x04"  # torch.save's default container, pickles inside


@dataclass
class LabelledSet:
    x: torch.Tensor
    y: torch.Tensor
    lr: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    soft: torch.Tensor | None = None
    domain: str = "logmel"
    decoder: dict[str, Any] | None = None

    @property
    def ipc(self) -> int:
        """Stored items per class (the budget unit of the literature)."""
        return int(torch.bincount(self.y).max()) if self.y.numel() else 0

    @property
    def labels(self) -> str:
        return "hard" if self.soft is None else "soft"

    def stored_bytes(self) -> int:
        tensors = [self.x, self.y] + ([self.soft] if self.soft is not None else [])
        return sum(t.numel() * t.element_size() for t in tensors)

    def budget(self) -> dict[str, int]:
        return {"items_per_class": self.ipc, "stored_bytes": self.stored_bytes()}

    def describe(self) -> dict[str, Any]:
        """What a record says about the set's form."""
        return {"labels": self.labels, "domain": self.domain, "decoder": self.decoder, "budget": self.budget()}


def tensor_digest(labelled: LabelledSet) -> str:
    """sha256 of the stored tensors alone: equal for two sets with the same items whatever their metadata."""
    digest = hashlib.sha256()
    for tensor in (labelled.x, labelled.y, labelled.soft):
        if tensor is not None:
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_set(path: Path, labelled: LabelledSet) -> None:
    tensors = {"x": labelled.x.detach().cpu().float().contiguous(), "y": labelled.y.detach().cpu().long()}
    if labelled.soft is not None:
        tensors["soft"] = labelled.soft.detach().cpu().float().contiguous()
    if labelled.lr is not None:
        tensors["lr"] = torch.tensor(float(labelled.lr))
    header = {
        "format": FORMAT_VERSION,
        "domain": labelled.domain,
        "decoder": labelled.decoder,
        "set": labelled.metadata,
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={V2_KEY: json.dumps(header, sort_keys=True)})


def _safetensors_layout(head: bytes, size: int) -> bool:
    """A safetensors file opens with its JSON header's length (u64, little endian) and then ``{``. That
    length's low byte can be 0x80, the pickle mark, so the layout is checked before the marks."""
    if len(head) < 9:
        return False
    return head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise UserError(f"{path}: set file not found")
    with open(path, "rb") as handle:
        head = handle.read(9)
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
            meta = dict(handle.metadata() or {})
    except (safetensors.SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable safetensors file ({exc})") from exc
    return tensors, meta


def _json(meta: dict[str, str], key: str, path: Path) -> Any:
    try:
        return json.loads(meta[key]) if key in meta else None
    except ValueError as exc:
        raise UserError(f"{path}: metadata {key!r} is not valid JSON ({exc})") from exc


def load_set(
    path: Path,
    *,
    shape: tuple[int, ...] | None = None,
    num_classes: int | None = None,
    num_samples: int | None = None,
) -> LabelledSet:
    """Load and validate a set file (v1 or v2); every problem is a one-line error naming the file.

    ``shape`` is the dataset's log-mel item shape (checked after decoding), ``num_samples`` its waveform
    length, ``num_classes`` its class count."""
    path = Path(path)
    tensors, meta = _read(path)
    header = _json(meta, V2_KEY, path) if V2_KEY in meta else {"format": 1, "set": _json(meta, "distrack", path)}
    if not isinstance(header, dict) or header.get("format") not in (1, FORMAT_VERSION):
        raise UserError(
            f"{path}: set format {header.get('format') if isinstance(header, dict) else header!r} "
            "is not supported (1 or 2)"
        )
    metadata = header.get("set") or {}
    domain = header.get("domain", "logmel")
    if domain not in DOMAINS:
        raise UserError(f"{path}: unknown item domain {domain!r} (expected {' or '.join(DOMAINS)})")
    decoder_spec = header.get("decoder")
    unknown = sorted(set(tensors) - {"x", "y", "soft", "lr"})
    if "x" not in tensors or not ({"y", "soft"} & set(tensors)) or unknown:
        raise UserError(f"{path}: expected tensors x, y and/or soft, optionally lr; found {sorted(tensors)}")
    x = tensors["x"]
    _check_items(path, x, domain, decoder_spec, shape, num_samples)
    soft = tensors.get("soft")
    if soft is not None:
        _check_soft(path, soft, len(x), num_classes)
    y = tensors["y"] if "y" in tensors else soft.argmax(dim=1)  # type: ignore[union-attr]
    if y.dim() != 1 or y.is_floating_point() or len(y) != len(x):
        raise UserError(f"{path}: y must be {len(x)} integer labels, got {y.dtype} {tuple(y.shape)}")
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
    return LabelledSet(x.float(), y.long(), lr, metadata, None if soft is None else soft.float(), domain, decoder_spec)


def _check_items(
    path: Path,
    x: torch.Tensor,
    domain: str,
    decoder_spec: Any,
    shape: tuple[int, ...] | None,
    num_samples: int | None,
) -> None:
    if not x.is_floating_point():
        raise UserError(f"{path}: x must be a float tensor, got {x.dtype}")
    if not torch.isfinite(x).all():
        raise UserError(f"{path}: x contains NaN or infinite values")
    if domain == "waveform":
        if x.dim() != 2:
            raise UserError(f"{path}: waveform items must be (n, samples), got {tuple(x.shape)}")
        if num_samples is not None and x.shape[1] != num_samples:
            raise UserError(f"{path}: waveforms have {x.shape[1]} samples but the features need {num_samples}")
        return
    if x.dim() != 4:
        raise UserError(f"{path}: x must be a float tensor (n, 1, n_mels, frames), got {x.dtype} {tuple(x.shape)}")
    item = tuple(x.shape[1:])
    if decoder_spec is not None:
        if not isinstance(decoder_spec, dict):
            raise UserError(f"{path}: decoder must be a JSON object, got {decoder_spec!r}")
        try:
            item = Decoder.from_spec(decoder_spec, f"{path} decoder").decoded_shape(item)
        except UserError as exc:
            raise UserError(f"{path}: {exc}") from None
    if shape is not None and item != tuple(shape):
        raise UserError(
            f"{path}: items have shape {item} but the dataset's features are "
            f"{tuple(shape)} (check the profile and feature parameters)"
        )


def _check_soft(path: Path, soft: torch.Tensor, n: int, num_classes: int | None) -> None:
    if soft.dim() != 2 or len(soft) != n or not soft.is_floating_point():
        raise UserError(f"{path}: soft labels must be a float (n={n}, classes) matrix, got {tuple(soft.shape)}")
    if num_classes is not None and soft.shape[1] != num_classes:
        raise UserError(f"{path}: soft labels have {soft.shape[1]} classes but the dataset has {num_classes}")
    if not torch.isfinite(soft).all() or bool((soft < 0).any()):
        raise UserError(f"{path}: soft labels must be finite probabilities >= 0")
    worst = float((soft.double().sum(dim=1) - 1).abs().max()) if n else 0.0
    if worst > SOFT_TOLERANCE:
        raise UserError(f"{path}: soft label rows must sum to 1 (largest deviation {worst:.3g})")
