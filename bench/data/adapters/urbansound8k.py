"""UrbanSound8K: ``audio/fold<K>/*.wav`` + ``metadata/UrbanSound8K.csv`` with its official folds.

Only the fold folders present on disk are read, so a copy with a subset of folds works as long as the
configured train/validation/test folds are among them."""

from __future__ import annotations

import csv
from dataclasses import dataclass

from bench.data.clips import Clip, ClipIndex
from bench.data.registry import DatasetAdapter, DatasetInfo, register_dataset
from bench.errors import DataError

_COLUMNS = {"slice_file_name", "fsID", "fold", "classID", "class"}


@dataclass(frozen=True)
class UrbanSoundOptions:
    train_folds: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    validation_folds: tuple[int, ...] = (9,)
    test_folds: tuple[int, ...] = (10,)


@register_dataset
class UrbanSound8k(DatasetAdapter):
    info = DatasetInfo(
        name="urbansound8k",
        description="UrbanSound8K: 10 urban sound classes, 8,732 clips up to 4 s, 10 official folds",
        default_dir="UrbanSound8K",
        url="https://zenodo.org/records/1203745/files/UrbanSound8K.tar.gz",
        checksum="md5:9aa69802bbf37fb986f71ec1483a196e",  # the md5 Zenodo publishes for the record's file
        archive_dir="UrbanSound8K",
        licence="CC BY-NC 3.0",
    )
    Options = UrbanSoundOptions

    def scan(self) -> ClipIndex:
        root = self.require_root()
        meta = root / "metadata" / "UrbanSound8K.csv"
        if not meta.is_file():
            raise DataError(f"urbansound8k: expected {meta}")
        present = {int(p.name[4:]) for p in (root / "audio").glob("fold*") if p.is_dir() and p.name[4:].isdigit()}
        opts: UrbanSoundOptions = self.options
        split_of = {}
        for split, folds in (
            ("train", opts.train_folds),
            ("validation", opts.validation_folds),
            ("test", opts.test_folds),
        ):
            if not set(folds) & present:
                raise DataError(
                    f"urbansound8k: none of the {split} folds {list(folds)} is under {root / 'audio'} "
                    f"(present: {sorted(present)}); set datasets.urbansound8k.{split}_folds"
                )
            split_of.update({fold: split for fold in folds})
        with open(meta, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = _COLUMNS - set(reader.fieldnames or [])
            if missing:
                raise DataError(f"{meta}: missing column(s) {', '.join(sorted(missing))}")
            rows = list(reader)
        names = {int(r["classID"]): r["class"] for r in rows}
        clips = []
        for row in rows:
            fold = int(row["fold"])
            if fold not in present or fold not in split_of:
                continue
            path = root / "audio" / f"fold{fold}" / row["slice_file_name"]
            if not path.is_file():
                raise DataError(f"{path}: listed in {meta} but missing")
            clips.append(
                Clip(
                    key=path.stem,
                    label=int(row["classID"]),
                    group=f"fs-{row['fsID']}",
                    split=split_of[fold],
                    source=path,
                )
            )
        return ClipIndex("urbansound8k", [names[i] for i in sorted(names)], clips)
