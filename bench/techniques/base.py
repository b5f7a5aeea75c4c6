"""The plug-in contract every technique implements.

A technique is a class with a ``name``, a typed ``Params`` dataclass whose defaults may differ per
profile (``profile_defaults``), and ``distill(train_set, ipc, seed, budget, device, progress)``
returning a :class:`DistilledSet`. Every random draw inside ``distill`` must come from ``seed``.
``train_set`` holds the training and validation splits only (:class:`TrainingSplits`): the test split
stays inside evaluation."""

from __future__ import annotations

import abc
import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from bench.device import peak_memory_mb, reset_peak_memory
from bench.errors import UserError
from bench.features.store import FeatureSet, TrainingSplits
from bench.models import ModelSpec
from bench.sets.files import LabelledSet
from bench.sets.references import check_ipc
from bench.typed import parse_section


@dataclass(frozen=True)
class Budget:
    """How much work a run may do. ``iterations=None`` means the technique's profile default."""

    iterations: int | None = None


@dataclass
class Cost:
    wall_seconds: float
    iterations: int
    peak_memory_mb: float


@dataclass
class DistilledSet:
    x: torch.Tensor
    y: torch.Tensor
    technique: str
    params: dict[str, Any]
    cost: Cost
    lr: float | None = None
    history: list[float] = field(default_factory=list)  # the matching loss per iteration, if any
    # (iteration, validation accuracy) from DistillContext.monitor, if one was given
    monitored: list[tuple[int, float]] = field(default_factory=list)
    # set format v2: a teacher's soft labels (n, classes), the item domain, a factorised set's decoder
    soft: torch.Tensor | None = None
    domain: str = "logmel"
    decoder: dict[str, Any] | None = None

    def to_labelled(self, extra: Mapping[str, Any] | None = None) -> LabelledSet:
        """The set to save. Its metadata holds no timings (they go to the sidecar), so identical runs write
        identical bytes."""
        metadata = {
            "technique": self.technique,
            "params": self.params,
            "ipc": int(torch.bincount(self.y).max()),
            **(extra or {}),
        }
        soft = None if self.soft is None else self.soft.detach().cpu()
        return LabelledSet(
            self.x.detach().cpu(), self.y.detach().cpu(), self.lr, metadata, soft, self.domain, self.decoder
        )


@dataclass
class DistillContext:
    """What a technique gets besides its params: the matching network, where to checkpoint, caches."""

    model: ModelSpec
    checkpoint_path: Path | None = None
    checkpoint_every: int = 50
    resume: bool = False
    cache_dir: Path = Path("cache")  # expert trajectories and other reusable artefacts
    # Periodic validation during distillation: monitor(x, y, lr) -> accuracy, called monitor_checks times
    # per run (after every iterations // monitor_checks iterations). Its time is not counted in the cost.
    monitor: Callable[[torch.Tensor, torch.Tensor, float | None], float] | None = None
    monitor_checks: int = 0


class Technique(abc.ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type]
    profile_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def __init__(self, params: Any, context: DistillContext) -> None:
        self.params = params
        self.context = context
        self.monitored: list[tuple[int, float]] = []
        self.monitor_seconds = 0.0
        self.started = time.perf_counter()
        # Distillation seconds spent before a resumed run's checkpoint, so a resumed set's cost is the
        # whole distillation's, not only the last process's.
        self.resumed_seconds = 0.0

    @classmethod
    def configure(cls, profile: str, overrides: Mapping[str, Any] | None = None) -> Any:
        """The typed params: dataclass defaults, then the profile's defaults, then ``overrides``."""
        merged = {**cls.profile_defaults.get(profile, {}), **(overrides or {})}
        return parse_section(cls.Params, merged, f"techniques.{cls.name}")

    def run(
        self,
        train_set: FeatureSet | TrainingSplits,
        ipc: int,
        seed: int,
        budget: Budget,
        device: torch.device,
        progress: bool = False,
    ) -> DistilledSet:
        """Check the request, then time and measure :meth:`distill` on the training splits alone."""
        if isinstance(train_set, FeatureSet):
            train_set = train_set.training_splits()
        check_ipc(train_set, ipc)
        if budget.iterations is not None and budget.iterations < 1:
            raise UserError(f"--iterations must be at least 1, got {budget.iterations}")
        reset_peak_memory(device)
        self.started = time.perf_counter()
        self.monitored, self.monitor_seconds, self.resumed_seconds = [], 0.0, 0.0
        result = self.distill(train_set, ipc, seed, budget, device, progress)
        if budget.iterations is not None and "iterations" in result.params:
            result.params = {**result.params, "iterations": budget.iterations}  # what ran, not the default
        seconds = self.resumed_seconds + self.seconds_so_far()
        result.cost = Cost(seconds, result.cost.iterations, peak_memory_mb(device))
        result.monitored = list(self.monitored)
        return result

    def seconds_so_far(self) -> float:
        """Distillation time of this process: since :meth:`run` started, less the monitor's time."""
        return time.perf_counter() - self.started - self.monitor_seconds

    @abc.abstractmethod
    def distill(
        self, train_set: TrainingSplits, ipc: int, seed: int, budget: Budget, device: torch.device, progress: bool
    ) -> DistilledSet: ...

    def describe(self) -> dict[str, Any]:
        return dataclasses.asdict(self.params)
