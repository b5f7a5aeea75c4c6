"""What every dataset adapter produces: labelled clips with a group id and a split."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.errors import DataError

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Clip:
    """One labelled example. ``source`` is the audio file (``None`` for generated data); ``group`` is the
    unit that must never straddle two splits (speaker, fold, source recording)."""

    key: str
    label: int
    group: str
    split: str
    source: Path | None = None


@dataclass
class ClipIndex:
    dataset: str
    class_names: list[str]
    clips: list[Clip]
    subset_note: str | None = None

    def split(self, name: str) -> list[Clip]:
        return [clip for clip in self.clips if clip.split == name]

    def counts(self) -> dict[str, list[int]]:
        """Clips per class for each split."""
        result = {}
        for name in SPLITS:
            counter = Counter(clip.label for clip in self.split(name))
            result[name] = [counter.get(i, 0) for i in range(len(self.class_names))]
        return result

    def limited(self, per_class: int) -> ClipIndex:
        """The first ``per_class`` clips of each class in each split (in key order): a tiny, deterministic
        subset of real data for smoke runs. The subset is named in ``subset_note`` so results from it are
        never mistaken for full-dataset results."""
        kept, seen = [], Counter()
        for clip in sorted(self.clips, key=lambda c: c.key):
            if seen[clip.split, clip.label] < per_class:
                seen[clip.split, clip.label] += 1
                kept.append(clip)
        note = f"at most {per_class} clips per class per split"
        if self.subset_note:
            note = f"{self.subset_note}; {note}"
        return ClipIndex(self.dataset, self.class_names, kept, note)

    def validate(self) -> None:
        """Fail loudly on an empty split, a class missing from a split, or a group in two splits."""
        if not self.clips:
            raise DataError(f"{self.dataset}: no clips found")
        for split, per_class in self.counts().items():
            missing = [self.class_names[i] for i, n in enumerate(per_class) if n == 0]
            if missing:
                raise DataError(f"{self.dataset}: class(es) {', '.join(missing)} have no clips in the {split} split")
        owner: dict[str, str] = {}
        for clip in self.clips:
            previous = owner.setdefault(clip.group, clip.split)
            if previous != clip.split:
                raise DataError(
                    f"{self.dataset}: group {clip.group!r} appears in both {previous} and {clip.split} splits"
                )


@dataclass(frozen=True)
class HashSplitOptions:
    """Groups go to a split by a stable hash of their id, so a group never straddles two splits."""

    validation_pct: float = 10.0
    test_pct: float = 20.0


def hash_split(group: str, validation_pct: float, test_pct: float) -> str:
    """Deterministic group-level split from a stable hash of the group id (the Speech Commands recipe):
    a group keeps its split as the dataset grows, and no group is ever divided."""
    percent = int(hashlib.sha1(group.encode("utf-8")).hexdigest(), 16) % 10_000 / 100.0
    if percent < test_pct:
        return "test"
    if percent < test_pct + validation_pct:
        return "validation"
    return "train"
