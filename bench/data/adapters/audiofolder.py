"""Bring your own data: one folder per class, any audio format soundfile reads."""

from __future__ import annotations

from bench.data.audio import AUDIO_EXTENSIONS
from bench.data.clips import Clip, ClipIndex, HashSplitOptions, hash_split
from bench.data.registry import DatasetAdapter, DatasetInfo, register_dataset
from bench.errors import DataError


@register_dataset
class AudioFolder(DatasetAdapter):
    info = DatasetInfo(
        name="audiofolder",
        description="Your own data: <dir>/<class>/<clip>.wav|.flac|.ogg|.mp3, split by a hash of each file name",
        default_dir="audiofolder",
    )
    Options = HashSplitOptions

    def scan(self) -> ClipIndex:
        root = self.require_root()
        class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not class_dirs:
            raise DataError(f"audiofolder: {root} has no class folders (expected <class>/<clip>.wav)")
        clips = []
        for label, class_dir in enumerate(class_dirs):
            for path in sorted(class_dir.iterdir()):
                if path.suffix.lower() not in AUDIO_EXTENSIONS or not path.is_file():
                    self.ignore(f"not audio ({path.suffix or 'no extension'})" if path.is_file() else "folders")
                    continue
                key = f"{class_dir.name}/{path.stem}"
                split = hash_split(key, self.options.validation_pct, self.options.test_pct)
                clips.append(Clip(key=key, label=label, group=key, split=split, source=path))
        return ClipIndex("audiofolder", [d.name for d in class_dirs], clips)
