"""Speech Commands v0.02: ``<word>/<speaker>_nohash_<n>.wav`` with the official split lists."""

from __future__ import annotations

from dataclasses import dataclass

from bench.data.clips import Clip, ClipIndex
from bench.data.registry import DatasetAdapter, DatasetInfo, register_dataset
from bench.errors import DataError

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")


@dataclass(frozen=True)
class SpeechCommandsOptions:
    keywords: tuple[str, ...] = KEYWORDS
    # Set when the directory holds a subset of the release (e.g. the shared mini copy): every record of a
    # result on it then says so.
    subset_note: str | None = None


@register_dataset
class SpeechCommands(DatasetAdapter):
    info = DatasetInfo(
        name="speechcommands",
        description="Speech Commands v0.02 keyword spotting, 10 keywords, 16 kHz, 1 s",
        default_dir="speech_commands_v0.02",
        url="http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
        sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
        archive_dir=".",
        licence="CC BY 4.0",
    )
    Options = SpeechCommandsOptions

    def scan(self) -> ClipIndex:
        root = self.require_root()
        lists = {}
        for split, filename in (("test", "testing_list.txt"), ("validation", "validation_list.txt")):
            path = root / filename
            if not path.is_file():
                raise DataError(f"speechcommands: missing {path} (official v0.02 layout)")
            lists[split] = {line.strip() for line in path.read_text().splitlines() if line.strip()}
        keywords = list(self.options.keywords)
        clips = []
        for label, word in enumerate(keywords):
            folder = root / word
            if not folder.is_dir():
                raise DataError(f"speechcommands: keyword folder {folder} is missing")
            for path in sorted(folder.glob("*.wav")):
                relative = f"{word}/{path.name}"
                speaker, sep, _ = path.stem.partition("_nohash_")
                if not sep:
                    raise DataError(f"{path}: file name does not follow <speaker>_nohash_<n>.wav")
                split = (
                    "test"
                    if relative in lists["test"]
                    else ("validation" if relative in lists["validation"] else "train")
                )
                clips.append(Clip(key=relative, label=label, group=speaker, split=split, source=path))
        return ClipIndex("speechcommands", keywords, clips, subset_note=self.options.subset_note)
