"""ESC-10 and ESC-50 environmental sounds, five folds whose clips never share a source recording.

Two official layouts are read: the ESC-50 release (``audio/*.wav`` + ``meta/esc50.csv``, whose ``esc10``
column marks the ESC-10 subset) and the original ESC-10 release (``NNN - Class/<fold>-<id>-<take>.ogg``).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from bench.data.clips import Clip, ClipIndex
from bench.data.registry import DatasetAdapter, DatasetInfo, register_dataset
from bench.errors import DataError, UserError

_ESC10_DIR = re.compile(r"^(\d{3}) - (.+)$")
_ESC10_FILE = re.compile(r"^(\d)-(\d+)-([A-Z])\.ogg$")
_ESC50_COLUMNS = {"filename", "fold", "target", "category", "esc10", "src_file"}


@dataclass(frozen=True)
class FoldOptions:
    train_folds: tuple[int, ...] = (1, 2, 3)
    validation_folds: tuple[int, ...] = (4,)
    test_folds: tuple[int, ...] = (5,)

    def split_of(self, fold: int) -> str | None:
        for split, folds in (
            ("train", self.train_folds),
            ("validation", self.validation_folds),
            ("test", self.test_folds),
        ):
            if fold in folds:
                return split
        return None

    def check(self, name: str) -> None:
        seen: set[int] = set()
        for folds in (self.train_folds, self.validation_folds, self.test_folds):
            if seen & set(folds):
                raise UserError(f"datasets.{name}: a fold is assigned to two splits ({sorted(seen & set(folds))})")
            seen |= set(folds)


def _scan_esc50_layout(root: Path, name: str, opts: FoldOptions, esc10_only: bool) -> ClipIndex:
    meta = root / "meta" / "esc50.csv"
    with open(meta, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = _ESC50_COLUMNS - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"{meta}: missing column(s) {', '.join(sorted(missing))}")
        rows = [row for row in reader if not esc10_only or row["esc10"].strip().lower() == "true"]
    targets = sorted({int(row["target"]) for row in rows})
    label_of = {target: i for i, target in enumerate(targets)}
    names = {int(row["target"]): row["category"] for row in rows}
    clips = []
    for row in rows:
        split = opts.split_of(int(row["fold"]))
        if split is None:
            continue
        path = root / "audio" / row["filename"]
        if not path.is_file():
            raise DataError(f"{path}: listed in {meta} but missing")
        clips.append(
            Clip(
                key=Path(row["filename"]).stem,
                label=label_of[int(row["target"])],
                group=f"src-{row['src_file']}",
                split=split,
                source=path,
            )
        )
    return ClipIndex(name, [names[t] for t in targets], clips)


def _scan_esc10_release(root: Path, opts: FoldOptions) -> ClipIndex:
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and _ESC10_DIR.match(p.name))
    if not class_dirs:
        raise DataError(f"esc10: no '<NNN> - <Class>' folders in {root} and no meta/esc50.csv either")
    clips = []
    for label, class_dir in enumerate(class_dirs):
        for path in sorted(class_dir.glob("*.ogg")):
            match = _ESC10_FILE.match(path.name)
            if not match:
                raise DataError(f"{path}: file name does not follow <fold>-<freesound id>-<take>.ogg")
            split = opts.split_of(int(match[1]))
            if split is not None:
                clips.append(
                    Clip(
                        key=f"{class_dir.name[:3]}/{path.stem}",
                        label=label,
                        group=f"src-{match[2]}",
                        split=split,
                        source=path,
                    )
                )
    names = [_ESC10_DIR.match(d.name)[2] for d in class_dirs]  # type: ignore[index]
    return ClipIndex("esc10", names, clips)


@register_dataset
class Esc10(DatasetAdapter):
    info = DatasetInfo(
        name="esc10",
        description="ESC-10 environmental sounds: 10 classes, 400 clips of 5 s, 5 folds",
        default_dir="esc10",
        url="https://github.com/karolpiczak/ESC-10/archive/553c8f1743b9dba6b282e1323c3ca8fa76923448.tar.gz",
        archive_dir="ESC-10-553c8f1743b9dba6b282e1323c3ca8fa76923448",
        licence="CC BY 3.0",
    )
    Options = FoldOptions

    def scan(self) -> ClipIndex:
        self.options.check("esc10")
        root = self.require_root()
        if (root / "meta" / "esc50.csv").is_file():
            return _scan_esc50_layout(root, "esc10", self.options, esc10_only=True)
        return _scan_esc10_release(root, self.options)


@register_dataset
class Esc50(DatasetAdapter):
    info = DatasetInfo(
        name="esc50",
        description="ESC-50 environmental sounds: 50 classes, 2,000 clips of 5 s, 5 folds",
        default_dir="ESC-50",
        url="https://github.com/karolpiczak/ESC-50/archive/refs/heads/master.zip",
        # the md5 soundata pins for this branch archive (the repository publishes none); the branch can move,
        # and then the mismatch error asks for a checked --sha256
        checksum="md5:7771e4b9d86d0945acce719c7a59305a",
        archive_dir="ESC-50-master",
        licence="CC BY-NC 3.0",
    )
    Options = FoldOptions

    def scan(self) -> ClipIndex:
        self.options.check("esc50")
        root = self.require_root()
        if not (root / "meta" / "esc50.csv").is_file():
            raise DataError(f"esc50: expected {root / 'meta' / 'esc50.csv'} (ESC-50 layout)")
        return _scan_esc50_layout(root, "esc50", self.options, esc10_only=False)
