"""AudioMNIST: ``data/<speaker>/<digit>_<speaker>_<n>.wav``, split by speaker."""

from __future__ import annotations

import re

from bench.data.clips import Clip, ClipIndex, HashSplitOptions, hash_split
from bench.data.registry import DatasetAdapter, DatasetInfo, register_dataset
from bench.errors import DataError

_NAME = re.compile(r"^(\d)_(\d+)_(\d+)\.wav$")


@register_dataset
class AudioMnist(DatasetAdapter):
    info = DatasetInfo(
        name="audiomnist",
        description="AudioMNIST: 30,000 spoken digits from 60 speakers, 48 kHz; speaker-disjoint splits",
        default_dir="AudioMNIST",
        url="https://github.com/soerenab/AudioMNIST/archive/refs/heads/master.zip",
        archive_dir="AudioMNIST-master",
        licence="MIT",
    )
    Options = HashSplitOptions

    def scan(self) -> ClipIndex:
        data = self.require_root() / "data"
        if not data.is_dir():
            raise DataError(f"audiomnist: expected folder {data} (layout data/<speaker>/<digit>_<speaker>_<n>.wav)")
        clips = []
        for speaker_dir in sorted(p for p in data.iterdir() if p.is_dir()):
            for path in sorted(speaker_dir.glob("*.wav")):
                match = _NAME.match(path.name)
                if not match or match[2] != speaker_dir.name:
                    raise DataError(f"{path}: expected <digit>_{speaker_dir.name}_<n>.wav")
                split = hash_split(speaker_dir.name, self.options.validation_pct, self.options.test_pct)
                clips.append(
                    Clip(
                        key=f"{speaker_dir.name}/{path.stem}",
                        label=int(match[1]),
                        group=speaker_dir.name,
                        split=split,
                        source=path,
                    )
                )
        return ClipIndex("audiomnist", [str(d) for d in range(10)], clips)
