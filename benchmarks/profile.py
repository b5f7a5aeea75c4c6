"""Where the time goes in the hot loops (issue #22): torch.profiler over the work benchmarks.compare times.

    DISTRACK_DATA_ROOT=../shared/data python -m benchmarks.profile [--epochs 3] [--top 12] [--trace DIR]

FSDD ``split: reference``, the anchor profile (width-64 ConvNet, 32x32, batch 256), on the CPU:

* evaluation at IPC 10 and 50, the default path and ``chunked`` (``--epochs`` training epochs each);
* one dm outer iteration at the reference's setting (IPC 10, batch_real 256, no augmentation).

For each it prints the operators with the most self CPU time (their share of the total, calls, and
self time per call), so a speed-up is aimed at what the profile shows, not at a guess. ``--trace DIR``
also writes a Chrome trace per piece of work (open in chrome://tracing or Perfetto)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from bench.allocator import reuse_freed_memory
from bench.evaluation.acceleration import Acceleration
from bench.evaluation.protocol import train_network
from bench.sets.references import random_real_subset
from bench.techniques import Budget, DistillContext, get_technique
from benchmarks.anchor import anchor_session
from benchmarks.compare import DM_SETTING


def profiled(work: Callable[[], object], trace: Path | None) -> list[tuple[str, float, int]]:
    """(operator, self CPU seconds, calls), most expensive first, of one run of ``work`` after a warm-up."""
    work()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        work()
    if trace is not None:
        prof.export_chrome_trace(str(trace))
    rows = [(event.key, event.self_cpu_time_total / 1e6, event.count) for event in prof.key_averages()]
    return sorted(rows, key=lambda row: -row[1])


def report(label: str, rows: list[tuple[str, float, int]], top: int) -> None:
    total = sum(seconds for _, seconds, _ in rows)
    print(f"\n### {label}: {total:.3f} s self CPU time in all\n")
    print("| operator | self s | share | calls | ms / call |")
    print("|---|---|---|---|---|")
    for name, seconds, calls in rows[:top]:
        print(f"| `{name}` | {seconds:.3f} | {seconds / total:.1%} | {calls} | {1e3 * seconds / calls:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--cache-dir", type=Path, default=Path("cache"))
    parser.add_argument("--epochs", type=int, default=3, help="Evaluation epochs profiled per piece.")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--trace", type=Path, default=None, help="Write Chrome traces into this folder.")
    args = parser.parse_args()
    reuse_freed_memory()  # as distrack does (bench/allocator.py)
    if args.trace is not None:
        args.trace.mkdir(parents=True, exist_ok=True)
    session = anchor_session(args.params, args.cache_dir, "cpu")
    features = session.features("fsdd")
    protocol = dataclasses.replace(session.profile.protocol, epochs=args.epochs, seeds=(0,))
    print(f"threads {torch.get_num_threads()}, torch {torch.__version__}")
    for ipc in (10, 50):
        subset = random_real_subset(features, ipc, 0)
        for name in ("none", "chunked"):
            acceleration = Acceleration.parse(name)

            def train(subset=subset, acceleration=acceleration) -> object:
                return train_network(
                    subset.x, subset.y, features.num_classes, session.profile.model, protocol, 0, session.device,
                    None, acceleration,
                )  # fmt: skip

            trace = args.trace / f"evaluation-ipc{ipc}-{name}.json" if args.trace else None
            report(f"evaluation, IPC {ipc}, {args.epochs} epochs, {name}", profiled(train, trace), args.top)
    cls = get_technique("dm")
    technique = cls(cls.configure("anchor", DM_SETTING), DistillContext(model=session.profile.model))
    trace = args.trace / "dm-iteration.json" if args.trace else None
    rows = profiled(lambda: technique.run(features, 10, 0, Budget(1), session.device), trace)
    report("dm, one outer iteration, IPC 10, batch_real 256", rows, args.top)


if __name__ == "__main__":
    main()
