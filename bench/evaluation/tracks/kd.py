"""Knowledge distillation: a fresh student of the profile's network trained on the set's items against a
teacher's temperature-softened outputs (Hinton et al.'s KL term, times T squared), the teacher being a network
trained on the whole real training split (:mod:`bench.artefacts.teachers`). Every training batch is optionally
augmented and relabelled by the teacher on the fly, the lever of soft-label distillation (SRe2L, RDED).

Its numbers never share a column with hard-label tracks: the board gives each track its own tables. The
temperature is chosen on the VALIDATION split with the first seed's student, then every seed is trained with
it; the recipe (epochs, learning rate and its schedule, batch size) is the profile's protocol."""

from __future__ import annotations

import dataclasses
import functools
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from bench.artefacts.teachers import Teacher, TeacherParams, get_teacher, teacher_spec
from bench.device import device_description, peak_memory_mb, reset_peak_memory
from bench.evaluation.protocol import accuracy, lr_at_epoch
from bench.evaluation.tracks.base import Track, TrackResult
from bench.evaluation.tracks.registry import register_track
from bench.features.store import FeatureSet
from bench.models import ModelSpec
from bench.models.base import Network
from bench.params import ProtocolParams
from bench.sets.files import LabelledSet
from bench.techniques.augment import AugmentParams, augment
from bench.typed import parse_section, ranged


@dataclass(frozen=True)
class KDParams:
    teacher: Mapping[str, Any] = field(default_factory=dict)  # TeacherParams: model, epochs, lrs, seed
    temperatures: tuple[float, ...] = ranged((1.0, 4.0), gt=0)  # candidates, chosen on validation
    seeds: tuple[int, ...] | None = None  # None: the protocol's evaluation seeds
    augment: bool = True  # every batch through the audio-aware augmentation, then relabelled by the teacher
    set_soft_labels: bool = False  # the set's own soft labels (where it has them) instead of the teacher's


def kd_loss(student_logits: torch.Tensor, target_log_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(target || softmax(student / T)) averaged over the batch, times T^2 (keeps gradients comparable
    across temperatures). ``target_log_probs`` are the teacher's log_softmax(logits / T)."""
    student = F.log_softmax(student_logits / temperature, dim=1)
    return F.kl_div(student, target_log_probs, log_target=True, reduction="batchmean") * temperature**2


Targets = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (batch, its item indices) -> log-probs


def train_student(
    x: torch.Tensor,
    num_classes: int,
    targets: Targets,
    model_spec: ModelSpec,
    protocol: ProtocolParams,
    seed: int,
    temperature: float,
    device: torch.device,
    augment_batches: bool,
    lr: float | None = None,
) -> tuple[Network, list[float]]:
    """The protocol's SGD recipe with the KD loss; returns the student and its mean loss per epoch."""
    student = model_spec.build(tuple(x.shape[1:]), num_classes, seed).to(device)
    base_lr = protocol.lr if lr is None else lr
    optimiser = torch.optim.SGD(
        student.parameters(), lr=base_lr, momentum=protocol.momentum, weight_decay=protocol.weight_decay
    )
    order_generator = torch.Generator().manual_seed(seed)
    augmentation = torch.Generator().manual_seed(seed + 1_000_003) if augment_batches else None
    x = x.to(device)
    losses: list[float] = []
    for epoch in range(protocol.epochs):
        for group in optimiser.param_groups:
            group["lr"] = lr_at_epoch(protocol, base_lr, epoch)
        order = torch.randperm(len(x), generator=order_generator).to(device)
        total, batches = 0.0, 0
        for start in range(0, len(x), protocol.batch_size):
            idx = order[start : start + protocol.batch_size]
            batch = x[idx]
            if augmentation is not None:
                batch = augment(batch, AugmentParams(), augmentation, per_sample=True)
            target = targets(batch, idx)
            student.train()
            optimiser.zero_grad(set_to_none=True)
            loss = kd_loss(student(batch), target, temperature)
            loss.backward()
            optimiser.step()
            total, batches = total + float(loss.detach()), batches + 1
        losses.append(total / batches)
    return student, losses


def teacher_targets(teacher: Teacher, temperature: float) -> Targets:
    return lambda batch, _: F.log_softmax(teacher.logits(batch) / temperature, dim=1)


def stored_targets(soft: torch.Tensor) -> Targets:
    log_probs = soft.clamp_min(1e-12).log()
    return lambda _, idx: log_probs[idx]


@register_track
class KnowledgeDistillationTrack(Track):
    name = "kd"
    description = "a fresh student trained on the set against a full-data teacher's softened outputs (KL)"
    protocol_id = "kd-v1"
    Params = KDParams
    requires = ("model:profile", "teacher")

    @functools.cached_property
    def teacher_params(self) -> TeacherParams:
        return parse_section(TeacherParams, self.params.teacher, "tracks.kd.teacher")

    def describe(self) -> dict[str, Any]:
        return {
            "params": {**dataclasses.asdict(self.params), **dataclasses.asdict(self.context.protocol)},
            "model": self.context.model.describe(),
            "teacher": {
                **dataclasses.asdict(self.teacher_params),
                "model": teacher_spec(self.teacher_params, self.context.model).describe(),
            },
        }

    def model_specs(self) -> list[ModelSpec]:
        return [self.context.model, teacher_spec(self.teacher_params, self.context.model)]

    def evaluate(self, labelled: LabelledSet, features: FeatureSet) -> TrackResult:
        context = self.context
        reset_peak_memory(context.device)
        start = time.perf_counter()
        teacher = get_teacher(
            features, self.teacher_params, context.model, context.protocol, context.device, context.cache_dir
        )
        items = self.items(labelled, features)
        x, seeds = items.x.detach(), list(self.params.seeds or context.protocol.seeds)
        uses_set_labels = self.params.set_soft_labels and items.soft is not None

        def targets(temperature: float) -> Targets:
            if uses_set_labels:
                return stored_targets(items.soft.to(context.device))
            return teacher_targets(teacher, temperature)

        def student(seed: int, temperature: float) -> tuple[Network, list[float], float]:
            began = time.perf_counter()
            network, losses = train_student(
                x,
                features.num_classes,
                targets(temperature),
                context.model,
                context.protocol,
                seed,
                temperature,
                context.device,
                self.params.augment,
                items.lr,
            )
            return network, losses, time.perf_counter() - began

        trials = (
            {t: student(seeds[0], t) for t in self.params.temperatures} if len(self.params.temperatures) > 1 else {}
        )
        by_validation = {t: accuracy(net, features.validation, context.device) for t, (net, _, _) in trials.items()}
        temperature = max(by_validation, key=by_validation.get) if trials else self.params.temperatures[0]
        trained = [
            trials[temperature] if (seed == seeds[0] and trials) else student(seed, temperature) for seed in seeds
        ]
        tests = [accuracy(net, features.test, context.device) for net, _, _ in trained]
        validations = [accuracy(net, features.validation, context.device) for net, _, _ in trained]
        return TrackResult(
            seeds=seeds,
            metrics={"test_accuracy": tests, "validation_accuracy": validations},
            main_score="test_accuracy",
            cost={
                "train_seconds_per_seed": [seconds for _, _, seconds in trained],
                "wall_seconds": time.perf_counter() - start,
                "peak_memory_mb": peak_memory_mb(context.device),
                "device": device_description(context.device),
            },
            extras={
                "temperature": temperature,
                "validation_accuracy_per_temperature": {str(t): v for t, v in by_validation.items()},
                "final_train_loss": statistics.fmean(losses[-1] for _, losses, _ in trained),
                "teacher": {
                    key: teacher.description[key]
                    for key in ("test_accuracy", "validation_accuracy", "lr", "key", "train_seconds")
                },
                "teacher_built_here": teacher.built,
                "teacher_soft_labels": not uses_set_labels,
            },
        )
