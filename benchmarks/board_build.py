"""What a leaderboard rebuild costs from scratch and with its pictures already drawn, side by side in one run.

    python -m benchmarks.board_build [--results leaderboard/results] [--samples] [--repeats 2]

Builds the board of the committed records into a fresh temporary folder (every picture drawn: accuracy plots,
severity curves, one confusion matrix per cell and track, and with ``--samples`` the sample WAVs and
spectrogram grids of the sets found under ``outputs/sets``), then again into the same folder, where each
picture's fingerprint matches its data and nothing is redrawn. The second build is what `dvc repro` and
`distrack leaderboard build` pay after a few records change."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.leaderboard.build import build


def _timed(results: Path, out: Path, samples: bool, cache_roots: list[Path]) -> tuple[float, int]:
    start = time.perf_counter()
    build([results], out, samples=samples, repo_root=Path("."), cache_roots=cache_roots)
    return time.perf_counter() - start, sum(1 for _ in out.parent.rglob("*.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path("leaderboard/results"))
    parser.add_argument("--samples", action="store_true", help="also render sample sounds (needs sets + features)")
    parser.add_argument("--cache-root", type=Path, action="append", default=None)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    cache_roots = args.cache_root or [Path("outputs/cache"), Path("cache")]
    records = sum(1 for _ in args.results.rglob("*.json"))
    print(f"{records} records from {args.results}, samples {'on' if args.samples else 'off'}\n")
    print("| round | from scratch s | pictures already drawn s | ratio | pictures |")
    print("|---|---|---|---|---|")
    for round_ in range(1, args.repeats + 1):
        with tempfile.TemporaryDirectory(prefix="distrack-board-") as scratch:
            out = Path(scratch) / "README.md"
            cold, pictures = _timed(args.results, out, args.samples, cache_roots)
            warm, _ = _timed(args.results, out, args.samples, cache_roots)
        print(f"| {round_} | {cold:.1f} | {warm:.1f} | {cold / warm:.1f}x | {pictures} |", flush=True)


if __name__ == "__main__":
    main()
