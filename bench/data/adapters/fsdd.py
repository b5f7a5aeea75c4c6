"""Free Spoken Digit Dataset: ``recordings/{digit}_{speaker}_{index}.wav``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.data.clips import Clip, ClipIndex
from bench.data.registry import DatasetAdapter, DatasetInfo, register_dataset
from bench.errors import DataError, UserError

_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


@dataclass(frozen=True)
class FsddOptions:
    """``split: index`` follows the dataset's own convention (indices 0-4 test); validation takes the
    next indices. Speakers then appear in every split (each recording is its own source file).
    ``split: speaker`` holds out whole speakers instead. ``split: reference`` is the reference code's split
    (issue #7's accuracy anchor): train = every recording not in test, so the validation recordings are
    training clips too, and validation scores under it are NOT held out; choose hyperparameters with
    ``index``."""

    split: str = "index"
    test_indices: int = 5
    validation_indices: int = 5
    test_speakers: tuple[str, ...] = ("theo",)
    validation_speakers: tuple[str, ...] = ("nicolas",)


@register_dataset
class Fsdd(DatasetAdapter):
    info = DatasetInfo(
        name="fsdd",
        description="Free Spoken Digit Dataset: 10 spoken digits, 6 speakers, 8 kHz",
        default_dir="fsdd",
        url="https://github.com/Jakobovski/free-spoken-digit-dataset/archive/"
        "26eb9aaf76e81b692f806f9140c2d2777410d7a1.tar.gz",
        archive_dir="free-spoken-digit-dataset-26eb9aaf76e81b692f806f9140c2d2777410d7a1",
        licence="CC BY-SA 4.0",
    )
    Options = FsddOptions

    def scan(self) -> ClipIndex:
        opts: FsddOptions = self.options
        if opts.split not in ("index", "speaker", "reference"):
            raise UserError(f"datasets.fsdd.split: expected 'index', 'speaker' or 'reference', got {opts.split!r}")
        recordings = self.require_root() / "recordings"
        if not recordings.is_dir():
            raise DataError(f"fsdd: expected folder {recordings} (FSDD layout recordings/<digit>_<speaker>_<n>.wav)")
        clips = []
        for path in sorted(recordings.glob("*.wav")):
            match = _NAME.match(path.name)
            if not match:
                raise DataError(f"{path}: file name does not follow <digit>_<speaker>_<index>.wav")
            digit, speaker, number = int(match[1]), match[2], int(match[3])
            if opts.split in ("index", "reference"):
                group = path.stem
                split = (
                    "test"
                    if number < opts.test_indices
                    else "validation"
                    if number < opts.test_indices + opts.validation_indices
                    else "train"
                )
            else:
                group = speaker
                split = (
                    "test"
                    if speaker in opts.test_speakers
                    else "validation"
                    if speaker in opts.validation_speakers
                    else "train"
                )
            if opts.split == "reference" and split == "validation":
                # Trains, and is also scored as (not held-out) validation under a key and group of its own.
                clips.append(Clip(key=f"{group}~val", label=digit, group=f"{group}~val", split=split, source=path))
                split = "train"
            clips.append(Clip(key=path.stem, label=digit, group=group, split=split, source=path))
        return ClipIndex("fsdd", [str(d) for d in range(10)], clips)
