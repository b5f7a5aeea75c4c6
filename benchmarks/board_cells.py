"""The command line and session shared by the benchmarks that re-score committed board cells
(``dataset/technique/ipc``, distillation seed 0, quick profile) from their sets under ``outputs/``."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.allocator import reuse_freed_memory
from bench.library_notices import silence_expected_notices
from bench.session import Session


def cells_parser(doc: str | None, default_cells: str) -> argparse.ArgumentParser:
    """``--cells``, ``--root``, ``--params``, ``--cache-dir`` and ``--json``; the caller adds its own options."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default=default_cells, help="dataset/technique/ipc, comma separated")
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository (records, sets under outputs/)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--cache-dir", type=Path, default=Path("cache"))
    parser.add_argument("--json", type=Path, default=None)
    return parser


def quick_session(args: argparse.Namespace) -> Session:
    """A CPU session of the quick profile, set up as ``distrack`` sets itself up: freed memory kept for reuse,
    the library notices that say nothing silenced."""
    reuse_freed_memory()  # bench/allocator.py
    silence_expected_notices()
    return Session(args.params, "quick", None, args.cache_dir, "cpu", progress=False, dataset_dirs={})
