"""The contract every evaluation track implements, mirroring :class:`~bench.techniques.Technique`.

A track is a way to score a set: a class with a ``name``, a ``protocol_id`` (versioned: a change that can
move a number gets a new id), a typed ``Params`` dataclass with per-profile defaults, ``requires`` naming the
models or artefacts it needs, and :meth:`Track.evaluate` returning a :class:`TrackResult` with named
metrics per evaluation seed and the name of its ``main_score``. Reference rows (random, full, ...) are
scored by the same method."""

from __future__ import annotations

import abc
import dataclasses
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from bench.evaluation.acceleration import NONE, Acceleration
from bench.features.store import FeatureSet
from bench.models import ModelSpec
from bench.params import ProtocolParams
from bench.sets.files import LabelledSet
from bench.sets.items import TrainingItems, training_items
from bench.typed import parse_section


@dataclass
class TrackContext:
    """What a track gets besides its params: the profile's network and training recipe, the device and the
    speed-ups the user asked for (a track uses those it supports and says so in :meth:`Track.describe`)."""

    model: ModelSpec
    protocol: ProtocolParams
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    progress: bool = False
    vectorise: str = "auto"
    acceleration: Acceleration = NONE
    cache_dir: Path = Path("cache")


@dataclass
class TrackResult:
    seeds: list[int]
    metrics: dict[str, list[float]]  # metric name -> one value per evaluation seed
    main_score: str
    cost: dict[str, Any]  # wall_seconds, peak_memory_mb, device, train_seconds_per_seed (if it trains)
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. the test confusion matrix

    def summary(self, metric: str | None = None) -> tuple[float, float]:
        values = self.metrics[metric or self.main_score]
        return statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0


class Track(abc.ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""
    protocol_id: ClassVar[str]
    Params: ClassVar[type]
    profile_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    requires: ClassVar[tuple[str, ...]] = ()  # models / artefacts, e.g. "model:convnet" or "teacher"
    main_score: ClassVar[str] = "test_accuracy"

    def __init__(self, params: Any, context: TrackContext) -> None:
        self.params = params
        self.context = context

    @classmethod
    def configure(cls, profile: str, overrides: Mapping[str, Any] | None = None) -> Any:
        """The typed params: dataclass defaults, then the profile's defaults, then ``overrides``."""
        merged = {**cls.profile_defaults.get(profile, {}), **(overrides or {})}
        return parse_section(cls.Params, merged, f"tracks.{cls.name}")

    def protocol(self) -> str:
        """The protocol id of this configuration (a track whose params change the recipe extends it)."""
        return self.protocol_id

    def describe(self) -> dict[str, Any]:
        """Everything that determines this track's numbers for a given set: part of its content key and of
        the record."""
        return {"params": dataclasses.asdict(self.params)}

    def model_specs(self) -> list[ModelSpec]:
        """The networks this track builds (their code is part of its content key)."""
        return [self.context.model]

    def supports(self, labelled: LabelledSet | None) -> bool:
        """Whether this track can score the evaluand (a reference with no set, e.g. zero-shot, is None)."""
        return labelled is not None

    def items(self, labelled: LabelledSet, features: FeatureSet) -> TrainingItems:
        return training_items(labelled, features.params, features.mean, features.std)

    @abc.abstractmethod
    def evaluate(self, labelled: LabelledSet, features: FeatureSet) -> TrackResult: ...
