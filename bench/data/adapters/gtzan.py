"""GTZAN genres: ``genres/<genre>/*.wav`` or ``*.au``, 30 s tracks, split by a stable hash of the track."""

from __future__ import annotations

from bench.data.clips import Clip, ClipIndex, HashSplitOptions, hash_split
from bench.data.registry import DatasetAdapter, DatasetInfo, register_dataset
from bench.errors import DataError


@register_dataset
class Gtzan(DatasetAdapter):
    info = DatasetInfo(
        name="gtzan",
        description="GTZAN music genres: 10 genres x 100 tracks of 30 s, 22.05 kHz",
        default_dir="gtzan",
        url="http://opihi.cs.uvic.ca/sound/genres.tar.gz",
        # 1,225,571,541 bytes; the digest TensorFlow Datasets pins for this URL (audio/gtzan/checksums.tsv)
        checksum="sha256:24347e0223d2ba798e0a558c4c172d9d4a19c00bb7963fe055d183dadb4ef2c6",
        archive_dir=".",
        licence="research use",
    )
    Options = HashSplitOptions

    def scan(self) -> ClipIndex:
        genres = self.require_root() / "genres"
        if not genres.is_dir():
            raise DataError(f"gtzan: expected folder {genres} (layout genres/<genre>/<genre>.NNNNN.wav|.au)")
        class_dirs = sorted(p for p in genres.iterdir() if p.is_dir())
        clips = []
        for label, genre_dir in enumerate(class_dirs):
            for path in sorted(p for p in genre_dir.iterdir() if p.suffix.lower() in (".wav", ".au")):
                group = f"{genre_dir.name}/{path.stem}"
                split = hash_split(group, self.options.validation_pct, self.options.test_pct)
                clips.append(Clip(key=group, label=label, group=group, split=split, source=path))
        return ClipIndex("gtzan", [d.name for d in class_dirs], clips)
