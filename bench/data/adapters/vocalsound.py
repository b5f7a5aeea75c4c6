"""VocalSound (Gong et al., ICASSP 2022): laughter, sighs, coughs, throat clearing, sneezes and sniffs.

Official layout of the release: ``audio_16k/<g><speaker>_<n>_<label>.wav`` (``g`` is f or m, ``n`` the
collection), ``class_labels_indices_vs.csv`` (index, mid, display_name) and the speaker split in
``meta/tr_meta.json``, ``meta/val_meta.json``, ``meta/te_meta.json`` (one entry per speaker, its id first).
The split is the release's own and is speaker-disjoint; a file whose speaker no split lists is counted and
passed over."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from bench.data.clips import Clip, ClipIndex
from bench.data.registry import DatasetAdapter, DatasetInfo, NoOptions, register_dataset
from bench.errors import DataError

_FILE = re.compile(r"^(?P<speaker>[fm]\d+)_(?P<take>\d+)_(?P<label>[a-z]+)$")
_SPLIT_FILES = (("train", "tr_meta.json"), ("validation", "val_meta.json"), ("test", "te_meta.json"))


def _speaker_id(entry: object, where: Path) -> str:
    if isinstance(entry, list) and entry and isinstance(entry[0], str):
        return entry[0]
    if isinstance(entry, dict) and isinstance(entry.get("spk_id"), str):
        return entry["spk_id"]
    raise DataError(f"{where}: expected one entry per speaker with its id first, got {entry!r}")


def _speakers(meta: Path) -> dict[str, str]:
    owner: dict[str, str] = {}
    for split, name in _SPLIT_FILES:
        path = meta / name
        if not path.is_file():
            raise DataError(f"vocalsound: missing {path} (the release's speaker split)")
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DataError(f"{path}: not valid JSON ({exc})") from None
        for entry in entries:
            speaker = _speaker_id(entry, path)
            if owner.setdefault(speaker, split) != split:
                raise DataError(f"{path}: speaker {speaker} is also in the {owner[speaker]} split")
    return owner


def _classes(root: Path) -> list[str]:
    path = root / "class_labels_indices_vs.csv"
    if not path.is_file():
        raise DataError(f"vocalsound: missing {path} (class index, mid, display_name)")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: int(row["index"]))
    return [row["display_name"].strip().lower().replace(" ", "") for row in rows]


@register_dataset
class VocalSound(DatasetAdapter):
    info = DatasetInfo(
        name="vocalsound",
        description="VocalSound: 6 human non-speech vocal sounds, 21,024 clips, 16 kHz, speaker-disjoint split",
        default_dir="vocalsound",
        url="https://www.dropbox.com/s/c5ace70qh1vbyzb/vs_release_16k.zip?dl=1",
        licence="CC BY-SA 4.0",
    )
    Options = NoOptions

    def scan(self) -> ClipIndex:
        root = self.require_root()
        audio = root / "audio_16k"
        if not audio.is_dir():
            raise DataError(f"vocalsound: expected folder {audio} (release layout audio_16k/<g><id>_<n>_<label>.wav)")
        classes = _classes(root)
        owner = _speakers(root / "meta")
        clips = []
        for path in sorted(audio.glob("*.wav")):
            match = _FILE.match(path.stem)
            if match is None:
                raise DataError(f"{path}: file name does not follow <g><speaker>_<n>_<label>.wav")
            if match["label"] not in classes:
                raise DataError(f"{path}: unknown class {match['label']!r} (classes: {', '.join(classes)})")
            split = owner.get(match["speaker"])
            if split is None:
                self.ignore("speaker in no split of meta/")
                continue
            label = classes.index(match["label"])
            clips.append(Clip(key=path.stem, label=label, group=match["speaker"], split=split, source=path))
        return ClipIndex("vocalsound", classes, clips)
