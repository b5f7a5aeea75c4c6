"""Philharmonia Orchestra samples: instrument recognition, the music task these machines can run.

Layout kept from the archive: ``audio/<instrument>/<instrument>_<note>_<duration>_<dynamic>_<articulation>.mp3``
(folder names may contain spaces; ``duration`` is 025, 05, 1, 15 or ``long``). The label is the instrument.
One pitch of one instrument is recorded at several lengths, dynamics and articulations, which sound alike, so
the split is leakage-free by that group: every recording of (instrument, note) lands in one split. It is also
stratified: within each instrument, groups taken in the order of a stable hash fill the test split to its share
of that instrument's clips, then validation, then train (a plain hash split left one instrument with a single
validation clip)."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from bench.data.clips import Clip, ClipIndex, HashSplitOptions
from bench.data.registry import DatasetAdapter, DatasetInfo, register_dataset
from bench.errors import DataError

# <instrument>_<note>_<duration>_<dynamic>_<articulation>: five fields joined by underscores (the instrument
# repeats the folder name with hyphens for spaces: "french-horn_A2_1_forte_normal.mp3" in "french horn/";
# durations include "very-long"), the note a pitch name with s for sharp and an octave.
_NOTE = re.compile(r"^[A-G]s?-?\d$")


@register_dataset
class Philharmonia(DatasetAdapter):
    info = DatasetInfo(
        name="philharmonia",
        description="Philharmonia Orchestra samples: 12+ instruments, mp3, split so a pitch never straddles splits",
        default_dir="philharmonia",
        url="https://github.com/skratchdot/philharmonia-samples",
        licence="free to use; not to be redistributed as a sample pack",
    )
    Options = HashSplitOptions

    def scan(self) -> ClipIndex:
        audio = self.require_root() / "audio"
        if not audio.is_dir():
            raise DataError(
                f"philharmonia: expected folder {audio} (layout audio/<instrument>/<instrument>_<note>_...mp3)"
            )
        instruments = sorted(p for p in audio.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not instruments:
            raise DataError(f"philharmonia: {audio} has no instrument folders")
        clips = []
        for label, folder in enumerate(instruments):
            found = []
            for path in sorted(folder.iterdir()):
                fields = path.stem.split("_")
                if path.suffix.lower() != ".mp3":
                    self.ignore(f"not .mp3 ({path.suffix or 'no extension'})")
                    continue
                if len(fields) != 5 or not _NOTE.match(fields[1]):
                    self.ignore("name not <instrument>_<note>_<duration>_<dynamic>_<articulation>")
                    continue
                found.append((f"{folder.name}/{fields[1]}", path))
            splits = self._stratified(Counter(group for group, _ in found))
            for group, path in found:
                key = f"{folder.name}/{path.stem}"
                clips.append(Clip(key=key, label=label, group=group, split=splits[group], source=path))
        return ClipIndex("philharmonia", [p.name for p in instruments], clips)

    def _stratified(self, sizes: Counter) -> dict[str, str]:
        """Groups of one instrument -> split: test first, then validation, each filled to its share of clips."""
        total = sum(sizes.values())
        quotas = (("test", self.options.test_pct), ("validation", self.options.validation_pct))
        order = sorted(sizes, key=lambda group: hashlib.sha1(group.encode("utf-8")).hexdigest())
        assigned, filled, stage = {}, 0, 0
        for group in order:
            while stage < len(quotas) and filled >= quotas[stage][1] / 100 * total:
                stage, filled = stage + 1, 0
            assigned[group] = quotas[stage][0] if stage < len(quotas) else "train"
            filled += sizes[group]
        return assigned
