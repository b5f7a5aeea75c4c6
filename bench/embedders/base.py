"""The contract of a pretrained (or fixed) audio embedder, for the transfer-learning probe and zero-shot rows.

An embedder is a class with a ``name``, typed ``Params``, the ``domain`` it reads (``logmel``: the suite's
normalised log-mels; ``waveform``: audio at ``sample_rate``) and the matching ``embed_*`` method returning one
row per item. One that classifies into a label space of its own (YAMNet's AudioSet classes) also gives
``class_scores`` and ``label_names``, which zero-shot rows map onto a dataset's classes. Weights are read from
the models root (``--models-root``, ``$DISTRACK_MODELS_ROOT`` or ``models_root:`` in params.yaml), never
downloaded; plug-ins register through the ``distrackted.embedders`` entry-point group."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from bench.errors import UserError
from bench.hashing import sha256_file
from bench.params import FeatureParams
from bench.typed import parse_section


class Embedder(abc.ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type]
    domain: ClassVar[str]  # "logmel" or "waveform"
    sample_rate: ClassVar[int | None] = None  # for waveform embedders

    def __init__(self, params: Any, models_root: Path | None) -> None:
        self.params = params
        self.models_root = models_root

    @classmethod
    def configure(cls, overrides: Mapping[str, Any] | None = None) -> Any:
        return parse_section(cls.Params, dict(overrides or {}), f"embedders.{cls.name}")

    def describe(self) -> dict[str, Any]:
        """What determines the embeddings: part of every cache key and track key that uses them."""
        return {"name": self.name, "params": dataclasses.asdict(self.params)}

    def embed_logmels(self, x: torch.Tensor, features: FeatureParams) -> np.ndarray:
        raise UserError(f"embedder {self.name} reads waveforms, not log-mels")

    def embed_waveforms(self, waves: list[np.ndarray]) -> np.ndarray:
        raise UserError(f"embedder {self.name} reads log-mels, not waveforms")

    def class_scores(self, waves: list[np.ndarray]) -> np.ndarray:
        raise UserError(f"embedder {self.name} has no label space of its own: no zero-shot row")

    def label_names(self) -> list[str]:
        return []

    def weights(self, relative: str, expected_sha256: str) -> Path:
        """A weights file under the models root, its sha256 checked; every problem is one line naming the
        path and the expected digest."""
        if self.models_root is None:
            raise UserError(
                f"embedder {self.name}: no models root; pass --models-root or set DISTRACK_MODELS_ROOT "
                f"(it needs {relative}, sha256 {expected_sha256})"
            )
        path = self.models_root / relative
        if not path.is_file():
            raise UserError(f"{path}: model file not found (embedder {self.name} expects sha256 {expected_sha256})")
        actual = sha256_file(path)
        if actual != expected_sha256:
            raise UserError(
                f"{path}: sha256 {actual} differs from the expected {expected_sha256}; corrupt or other weights"
            )
        return path
