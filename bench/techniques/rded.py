"""RDED (Sun et al., CVPR 2024, "On the Diversity and Realism of Distilled Dataset"): realistic and diverse
items cut from real data and chosen by a teacher, with no optimisation loop. For each class, candidate segments
(a 1/``factor`` share of a clip's frames, cropped at a random time from a random training clip of the class)
are scored by the teacher; the most confidently recognised are kept and stitched ``factor`` to an item, and
every item carries the teacher's soft labels, the lever RDED is built for (read it on the ``kd`` track).

Audio adaptation: RDED crops image patches and tiles four into one image; here an item is ``factor`` time
segments side by side, and a segment is scored on itself repeated to the clip's length (the teacher reads
whole clips)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from bench.errors import UserError
from bench.techniques.base import Budget, Cost, DistilledSet
from bench.techniques.registry import register_technique
from bench.techniques.teacher_guided import TeacherGuidedTechnique
from bench.typed import ranged

QUICK_TEACHER = {"epochs": 60}  # the kd track's quick teacher (params.yaml tracks.kd), so both share one


@dataclass(frozen=True)
class RDEDParams:
    factor: int = ranged(1, ge=1)  # segments stitched into one item (1: whole clips)
    candidates: int = ranged(5, ge=1)  # segments scored per segment kept
    teacher: Mapping[str, Any] = field(default_factory=dict)  # TeacherParams (`tracks.kd.teacher` keys)


@register_technique
class RDED(TeacherGuidedTechnique):
    name = "rded"
    description = "teacher-scored real segments stitched into items, with the teacher's soft labels (RDED)"
    Params = RDEDParams
    profile_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {"quick": {"teacher": QUICK_TEACHER}}

    def distill(self, train_set, ipc, seed, budget: Budget, device, progress) -> DistilledSet:
        p: RDEDParams = self.params
        assert self.teacher is not None
        frames = train_set.shape[-1]
        if frames % p.factor:
            raise UserError(f"techniques.rded.factor: {p.factor} does not divide the items' {frames} frames")
        width = frames // p.factor
        generator = torch.Generator().manual_seed(seed)
        x, y = train_set.train.x, train_set.train.y
        items = []
        for c in range(train_set.num_classes):
            members = torch.nonzero(y == c).flatten()
            needed = ipc * p.factor
            drawn = needed * p.candidates
            rounds = -(-drawn // len(members))  # every clip once before any clip twice
            order = torch.cat([torch.randperm(len(members), generator=generator) for _ in range(rounds)])[:drawn]
            starts = torch.randint(frames - width + 1, (drawn,), generator=generator)
            pairs = list(dict.fromkeys(zip(members[order].tolist(), starts.tolist(), strict=True)))  # no repeats
            if len(pairs) < needed:
                raise UserError(f"rded: only {len(pairs)} distinct segments of class {c} for {needed}; lower factor")
            segments = torch.stack([x[i, ..., s : s + width] for i, s in pairs])
            logits = self.teacher.logits(segments.repeat(1, 1, 1, p.factor).to(device))
            target = torch.full((len(pairs),), c, device=device)
            confidence = -F.cross_entropy(logits, target, reduction="none")
            kept = segments[confidence.cpu().argsort(descending=True, stable=True)[:needed]]
            items.append(torch.cat(kept.split(ipc), dim=-1))  # item j: the j-th, (ipc+j)-th, ... best segments
        synthetic = torch.cat(items)
        labels = torch.arange(train_set.num_classes).repeat_interleave(ipc)
        soft = torch.softmax(self.teacher.logits(synthetic.to(device)), dim=1).cpu()
        return DistilledSet(synthetic, labels, self.name, self.describe(), Cost(0.0, 0, 0.0), soft=soft)
