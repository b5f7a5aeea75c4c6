"""What a warm feature load costs with and without the stat index (issue #22), side by side in one run.

    DISTRACK_DATA_ROOT=../shared/data python -m benchmarks.feature_load [--datasets fsdd,esc10] [--drop-caches]

For each dataset: seconds to compute its data hash (every clip's sha256, what keys the feature cache) by
reading every file, and through a filled stat index (:mod:`bench.hashing`), best of ``--repeats``. With
``--drop-caches`` (Linux, root: writes /proc/sys/vm/drop_caches) the page cache is emptied before each
timing, so the files come from the disk, as after a reboot or with a dataset larger than memory."""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.features.store import data_hash
from bench.hashing import digest_index
from bench.session import Session


def _drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="fsdd,esc10,speechcommands,philharmonia")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--drop-caches", action="store_true")
    args = parser.parse_args()
    session = Session(args.params, "quick", None, Path("cache"), "cpu", progress=False, dataset_dirs={})
    print(f"page cache {'dropped before each timing' if args.drop_caches else 'warm'}\n")
    print("| dataset | clips | MB | read and hash every file s | stat index s | ratio |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="distrack-index-") as scratch:
        index = Path(scratch) / "file-digests.json"
        for name in args.datasets.split(","):
            adapter = session.dataset(name)
            clips = adapter.index()
            size = sum(os.path.getsize(c.source) for c in clips.clips if c.source is not None) / 2**20
            with digest_index(index):
                expected = data_hash(adapter, clips)  # fills the index
            timings: dict[str, list[float]] = {"read": [], "index": []}
            for _ in range(args.repeats):
                for way in ("read", "index"):
                    if args.drop_caches:
                        _drop_caches()
                    with digest_index(index) if way == "index" else contextlib.nullcontext():
                        start = time.perf_counter()
                        assert data_hash(adapter, clips) == expected
                        timings[way].append(time.perf_counter() - start)
            read, indexed = min(timings["read"]), min(timings["index"])
            print(f"| {name} | {len(clips.clips)} | {size:.0f} | {read:.3f} | {indexed:.3f} | {read / indexed:.1f}x |")


if __name__ == "__main__":
    main()
