"""The ConvNet's 2x2 average pool, ATen's kernel against the strided views of ``bench/models/pooling.py``, in one
run: the op alone (forward and backward, at the activation sizes of the width-64 ConvNet), then
``benchmarks.compare``'s timing table (dm's outer iteration, evaluation epochs) with each pool, interleaved::

    DISTRACK_DATA_ROOT=../shared/data python -m benchmarks.pooling [--rounds 2] [--repeats 2] [--epochs 3]

Both give the same bits (tests/test_pooling.py), so only the seconds differ."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.allocator import reuse_freed_memory
from bench.models import pooling
from benchmarks.anchor import anchor_session
from benchmarks.compare import timed, timing_table

SHAPES = [(32, 64, 32, 32), (32, 64, 16, 16), (100, 64, 32, 32), (100, 32, 32, 32), (256, 64, 16, 16)]


@contextlib.contextmanager
def aten_pool() -> Iterator[None]:
    """Every AvgPool2x2 runs ATen's kernel inside the block."""
    saved = pooling.fast_path_applies
    pooling.fast_path_applies = lambda x: False
    try:
        yield
    finally:
        pooling.fast_path_applies = saved


def _best_ms(work, repeats: int) -> float:
    work()
    return min(timed(work) for _ in range(repeats)) * 1e3


def op_row(shape: tuple[int, int, int, int], repeats: int) -> str:
    """Milliseconds (best of ``repeats``) of each pool's forward and backward on one activation size."""
    x = torch.randn(shape)
    grad = torch.randn(*shape[:2], shape[2] // 2, shape[3] // 2)
    aten_backward = torch.ops.aten.avg_pool2d_backward
    figures = [
        _best_ms(lambda: F.avg_pool2d(x, 2), repeats),
        _best_ms(lambda: pooling._pool(x), repeats),
        _best_ms(lambda: aten_backward(grad, x, [2, 2], [2, 2], [0, 0], False, True, None), repeats),
        _best_ms(lambda: pooling._unpool(grad), repeats),
    ]
    path = "views" if pooling.fast_path_applies(x) else "ATen"
    return f"| {shape} | {path} | " + " | ".join(f"{ms:.3f}" for ms in figures) + " |"


def op_table(repeats: int = 50) -> None:
    print("| input (items, channels, h, w) | path taken | ATen fwd ms | views fwd ms | ATen bwd ms | views bwd ms |")
    print("|---|---|---|---|---|---|")
    for shape in SHAPES:
        print(op_row(shape, repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--cache-dir", type=Path, default=Path("cache"))
    parser.add_argument("--rounds", type=int, default=2, help="Interleaved rounds (ATen first, then views first).")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    reuse_freed_memory()  # as distrack does (bench/allocator.py)
    print(f"threads {torch.get_num_threads()}\n")
    op_table()
    session = anchor_session(args.params, args.cache_dir, "cpu")
    features = session.features("fsdd")
    order = [("ATen", aten_pool), ("views", contextlib.nullcontext)]
    for round_index in range(args.rounds):
        for name, context in order if round_index % 2 == 0 else order[::-1]:
            print(f"\n## round {round_index + 1}, pool: {name}\n")
            with context():
                timing_table(session, features, args.repeats, args.epochs)


if __name__ == "__main__":
    main()
