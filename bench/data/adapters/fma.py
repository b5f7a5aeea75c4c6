"""FMA-small (Defferrard et al., ISMIR 2017): 8,000 tracks of 30 s, 8 balanced top-level genres.

Official layout: ``fma_small/<NNN>/<NNNNNN>.mp3`` (the folder is the track id's first three digits) and
``fma_metadata/tracks.csv``, whose two-row header names the columns used here: ``(set, subset)`` (small,
medium, large), ``(set, split)`` (training, validation, test: the release's own artist-aware split) and
``(track, genre_top)``, the label. Tracks of the subset whose file is absent are counted and passed over."""

from __future__ import annotations

from bench.data.clips import Clip, ClipIndex
from bench.data.registry import DatasetAdapter, DatasetInfo, NoOptions, register_dataset
from bench.errors import DataError

_SPLITS = {"training": "train", "validation": "validation", "test": "test"}
_COLUMNS = (("set", "subset"), ("set", "split"), ("track", "genre_top"))


@register_dataset
class FmaSmall(DatasetAdapter):
    info = DatasetInfo(
        name="fma_small",
        description="FMA-small: 8 genres x 1,000 tracks of 30 s (mp3), the release's artist-aware split",
        default_dir="fma",
        url="https://os.unil.cloud.switch.ch/fma/fma_small.zip",
        # the sha1 digests the FMA release lists (github.com/mdeff/fma README) for its two archives
        checksum="sha1:ade154f733639d52e35e32f5593efe5be76c6d70",
        extra_archives=(
            ("https://os.unil.cloud.switch.ch/fma/fma_metadata.zip", "sha1:f0df49ffe5f2a6008d7dc83c6915b31835dfe733"),
        ),
        licence="track licences vary (Creative Commons); metadata CC BY 4.0",
    )
    Options = NoOptions

    def scan(self) -> ClipIndex:
        root = self.require_root()
        meta = root / "fma_metadata" / "tracks.csv"
        audio = root / "fma_small"
        if not meta.is_file():
            raise DataError(f"fma_small: missing {meta} (the release's metadata)")
        if not audio.is_dir():
            raise DataError(f"fma_small: missing folder {audio} (layout fma_small/<NNN>/<NNNNNN>.mp3)")
        import pandas as pd  # here, not at the top: every command lists the adapters, few read FMA (0.8 s)

        try:
            tracks = pd.read_csv(meta, index_col=0, header=[0, 1], low_memory=False)
        except (ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"{meta}: not the release's two-row-header CSV ({exc})") from None
        missing = [f"{a}.{b}" for a, b in _COLUMNS if (a, b) not in tracks.columns]
        if missing:
            raise DataError(f"{meta}: missing column(s) {', '.join(missing)}")
        small = tracks[tracks[("set", "subset")] == "small"]
        classes = sorted(str(g) for g in small[("track", "genre_top")].dropna().unique())
        clips = []
        for track_id, row in small.iterrows():
            split = _SPLITS.get(str(row[("set", "split")]))
            genre = row[("track", "genre_top")]
            if split is None or pd.isna(genre):
                raise DataError(f"{meta}: track {track_id} has split {row[('set', 'split')]!r} and genre {genre!r}")
            path = audio / f"{int(track_id):06d}"[:3] / f"{int(track_id):06d}.mp3"
            if not path.is_file():
                self.ignore("listed in tracks.csv, file absent")
                continue
            key = f"{int(track_id):06d}"
            clips.append(Clip(key=key, label=classes.index(str(genre)), group=key, split=split, source=path))
        return ClipIndex("fma_small", classes, clips)
