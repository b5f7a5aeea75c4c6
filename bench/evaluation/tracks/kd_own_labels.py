"""The ``kd`` student trained against the set's *own* soft labels instead of the teacher's: the column of the
methods that learn their labels with their items (``datm-soft``) or store them (``rded``).

Everything else is the ``kd`` track's recipe (the profile's network and SGD schedule, augmented batches, the
temperature chosen on validation), so the two columns differ only in whose labels the student follows. A
stored label is fixed: an augmented batch keeps it, where ``kd`` asks the teacher again. The teacher is still
loaded and named in the record (same artefact as ``kd``'s), which keeps the two results traceable to one
dataset setting. A set without soft labels has nothing to score here and is refused by name."""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import UserError
from bench.evaluation.tracks.base import TrackResult
from bench.evaluation.tracks.kd import KDParams, KnowledgeDistillationTrack
from bench.evaluation.tracks.registry import register_track
from bench.features.store import FeatureSet
from bench.sets.files import LabelledSet


@dataclass(frozen=True)
class OwnLabelParams(KDParams):
    set_soft_labels: bool = True

    def __post_init__(self) -> None:
        if not self.set_soft_labels:
            raise UserError(
                "tracks.kd-own-labels.set_soft_labels: this track always trains on the set's own soft labels "
                "(the kd track trains on the teacher's)"
            )


@register_track
class OwnSoftLabelTrack(KnowledgeDistillationTrack):
    name = "kd-own-labels"
    description = "a fresh student trained on the set's own soft labels (sets that carry them), kd's recipe"
    protocol_id = "kd-own-labels-v1"
    Params = OwnLabelParams

    def evaluate(self, labelled: LabelledSet, features: FeatureSet) -> TrackResult:
        if labelled.soft is None:
            source = labelled.metadata.get("technique", "this set")
            raise UserError(f"track kd-own-labels: {source} has hard labels only; score it on the kd track")
        return super().evaluate(labelled, features)
