"""Speech Commands v0.02: ``<word>/<speaker>_nohash_<n>.wav`` with the official split lists.

The default task is the 10 keywords (yes, no, up, down, left, right, on, off, stop, go); ``all_words: true``
takes every one of the release's 35 word folders as a class instead. The 12-class KWS variant's
``_unknown_`` (other words pooled) and ``_silence_`` (1 s slices of ``_background_noise_``) classes are not
built: folders of words outside the task and ``_background_noise_`` are counted as ignored, so a result is
always on real, single-word clips. A file listed in both official lists is refused."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.data.clips import Clip, ClipIndex
from bench.data.registry import DatasetAdapter, DatasetInfo, register_dataset
from bench.errors import DataError

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")


@dataclass(frozen=True)
class SpeechCommandsOptions:
    keywords: tuple[str, ...] = KEYWORDS
    all_words: bool = False  # every word folder of the release (35 in v0.02) instead of ``keywords``
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
        # the digest torchaudio (datasets/speechcommands.py) and TensorFlow Datasets pin for this URL
        checksum="sha256:af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
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
        twice = sorted(lists["test"] & lists["validation"])
        if twice:
            raise DataError(f"speechcommands: {twice[0]} is in both testing_list.txt and validation_list.txt")
        folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        words = [name for name in folders if not name.startswith("_")]
        keywords = words if self.options.all_words else list(self.options.keywords)
        for name in folders:
            if name not in keywords:
                self.ignore("background-noise folder" if name.startswith("_") else "word folders outside the task")
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


_MAX_NUM_WAVS_PER_CLASS = 2**27 - 1  # the release's which_set() constant


def speaker_percentage(speaker: str) -> float:
    """The position (0-100) of a speaker in Speech Commands' own hash-based split (``which_set``)."""
    digest = hashlib.sha1(speaker.encode("utf-8")).hexdigest()
    return (int(digest, 16) % (_MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / _MAX_NUM_WAVS_PER_CLASS)


def resplit_by_speaker(
    source: Path,
    target: Path,
    keywords: tuple[str, ...] = KEYWORDS,
    test_below: float = 11.4,
    validation_below: float = 12.1,
    keep_below: float = 17.0,
) -> dict[str, int]:
    """Build a Speech Commands copy whose files all come from one official split (e.g. only test-split
    files) by re-splitting it by speaker with the release's hash: percentage < ``test_below`` -> test,
    < ``validation_below`` -> validation, < ``keep_below`` -> train, the rest left out. Speakers never
    straddle splits. This is how the shared ``speech_commands_mini`` copy was made."""
    if target.exists():
        raise DataError(f"{target} already exists; choose a new folder")
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    lists: dict[str, list[str]] = {"test": [], "validation": []}
    counts = {"train": 0, "validation": 0, "test": 0, "left_out": 0}
    for word in keywords:
        folder = source / word
        if not folder.is_dir():
            raise DataError(f"speechcommands: keyword folder {folder} is missing")
        for path in sorted(folder.glob("*_nohash_*.wav")):
            percent = speaker_percentage(path.name.split("_nohash_")[0])
            if percent >= keep_below:
                counts["left_out"] += 1
                continue
            split = "test" if percent < test_below else "validation" if percent < validation_below else "train"
            counts[split] += 1
            if split != "train":
                lists[split].append(f"{word}/{path.name}")
            (staging / word).mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, staging / word / path.name)
    (staging / "testing_list.txt").write_text("".join(f"{line}\n" for line in lists["test"]))
    (staging / "validation_list.txt").write_text("".join(f"{line}\n" for line in lists["validation"]))
    os.replace(staging, target)
    return counts
