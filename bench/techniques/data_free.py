"""The contract of a data-free technique: it distils from a teacher (a network trained on the real training
split, :mod:`bench.artefacts.teachers`) and the dataset's feature space, never from the data. ``run`` hands
``distill`` a view whose training and validation splits raise on any read, so the claim is enforced, not
trusted; the caller supplies the teacher (:meth:`DataFreeTechnique.use_teacher`)."""

from __future__ import annotations

import time
from typing import ClassVar

import torch

from bench.artefacts.teachers import Teacher, TeacherParams
from bench.device import peak_memory_mb, reset_peak_memory
from bench.errors import UserError
from bench.features.store import FeatureSet, TrainingSplits
from bench.features.withheld import withhold
from bench.techniques.base import Budget, Cost, DistilledSet, Technique
from bench.typed import parse_section


class DataFreeTechnique(Technique):
    data_free: ClassVar[bool] = True
    teacher: Teacher | None = None

    @property
    def teacher_params(self) -> TeacherParams:
        """The ``teacher`` mapping of the technique's params (the kd track's teacher by default)."""
        return parse_section(TeacherParams, self.params.teacher, f"techniques.{self.name}.teacher")

    def use_teacher(self, teacher: Teacher) -> None:
        self.teacher = teacher

    def run(
        self,
        train_set: FeatureSet | TrainingSplits,
        ipc: int,
        seed: int,
        budget: Budget,
        device: torch.device,
        progress: bool = False,
    ) -> DistilledSet:
        """As :meth:`Technique.run`, on ``train_set``'s feature space alone; any IPC is possible."""
        if self.teacher is None:
            raise UserError(f"{self.name} is data-free and distils from a teacher; none was given")
        if ipc < 1:
            raise UserError(f"--ipc must be at least 1, got {ipc}")
        if budget.iterations is not None and budget.iterations < 1:
            raise UserError(f"--iterations must be at least 1, got {budget.iterations}")
        space = withhold(train_set)
        reset_peak_memory(device)
        self.started = time.perf_counter()
        self.monitored, self.monitor_seconds, self.resumed_seconds = [], 0.0, 0.0
        result = self.distill(space, ipc, seed, budget, device, progress)
        if budget.iterations is not None:
            result.params = {**result.params, "iterations": budget.iterations}
        seconds = self.resumed_seconds + self.seconds_so_far()
        result.cost = Cost(seconds, result.cost.iterations, peak_memory_mb(device))
        return result
