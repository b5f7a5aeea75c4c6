"""The contract of a technique that reads the training split *and* a teacher (a network trained on the whole
real training split, :mod:`bench.artefacts.teachers`): the soft-label methods (RDED, SRe2L). The caller gives
the teacher (:meth:`TeacherGuidedTechnique.use_teacher`); a technique never trains one itself, since reporting
a teacher's quality needs the test split, which techniques never see."""

from __future__ import annotations

import torch

from bench.artefacts.teachers import Teacher, TeacherParams
from bench.errors import UserError
from bench.features.store import FeatureSet, TrainingSplits
from bench.techniques.base import Budget, DistilledSet, Technique
from bench.typed import parse_section


class TeacherGuidedTechnique(Technique):
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
        if self.teacher is None:
            raise UserError(f"{self.name} distils with a teacher; none was given")
        return super().run(train_set, ipc, seed, budget, device, progress)
