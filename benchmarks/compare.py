"""Ours beside the reference DatasetCondensation code, as ratios (issue #22's table), in one run.

The reference code cannot ship in this repository, so its figures are constants with their provenance:
measured on this 2-core machine with the unmodified reference code imported at run time, same FSDD clips,
1x32x32 log-mels, width-64 ConvNet, two threads, interleaved with ours, two rounds (issue #22). Only the
ratios mean anything: rerun this script on an otherwise idle machine, and compare figures of one run.

    DISTRACK_DATA_ROOT=../shared/data python -m benchmarks.compare [--repeats 3] [--epochs 5] [--json out.json]

Each hot loop is also reported as a share of the CPU's fp32 throughput: FLOPs counted by
``torch.utils.flop_counter`` over one pass, divided by the seconds, against the best of a large fp32 matmul
timed here (a practical peak, not the datasheet's)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.allocator import reuse_freed_memory
from bench.device import peak_memory_mb, reset_peak_memory
from bench.evaluation.acceleration import Acceleration
from bench.evaluation.protocol import train_network
from bench.models import build_model
from bench.session import Session
from bench.sets.references import random_real_subset
from bench.techniques import Budget, DistillContext, get_technique
from benchmarks.anchor import anchor_session

# (seconds, provenance) of the reference code on this machine, issue #22.
REFERENCE = {
    "dm_iteration": (2.57, "reference DM outer iteration, IPC 10, batch_real 256, no augmentation"),
    "eval_epoch_ipc10": (0.152, "reference evaluation, seconds per training epoch, 100 items, batch 256"),
}
DM_SETTING = {"batch_real": 256, "augment": False, "lr_img": 1.0, "init": "real"}
# The reference's DC and DSA settings (its main.py, IPC 10); benchmarks.against_reference times the same ones.
GRADIENT_MATCHING_SETTINGS = {
    "dc": {"batch_real": 256, "batch_train": 256, "lr_img": 0.1, "lr_net": 0.01, "init": "real", "augment": False},
    "dsa": {"batch_real": 256, "batch_train": 256, "lr_img": 0.1, "lr_net": 0.01, "init": "real", "augment": True},
}
# Peak resident memory of the reference trajectory-matching code for one IPC 10 iteration, 20 unrolled steps over
# the whole set (issue #22, measured like the figures above).
REFERENCE_MTT_PEAK_MB = (12.8 * 1024, "reference MTT, one IPC 10 iteration, syn_steps 20, peak RSS")
# The same iteration: one short expert is enough to time and measure one outer iteration (its training is a
# separate, cached artefact, outside the figure), no augmentation as in the reference run.
MTT_SETTING = {
    "syn_steps": 20,
    "augment": False,
    "num_experts": 1,
    "expert_train_epochs": 2,
    "expert_epochs": 2,
    "max_start_epoch": 0,
}


def matmul_peak_flops(size: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = min(timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def outer_iteration(session: Session, features, name: str, setting: dict, repeats: int) -> tuple[float, float]:
    """Seconds per outer iteration of technique ``name`` at IPC 10 (the best of ``repeats`` after a warm-up), and
    that iteration's FLOPs."""
    cls = get_technique(name)
    technique = cls(cls.configure("anchor", setting), DistillContext(model=session.profile.model))
    technique.run(features, 10, 0, Budget(1), session.device)  # warm-up
    seconds = min(timed(lambda: technique.run(features, 10, 0, Budget(1), session.device)) for _ in range(repeats))
    with FlopCounterMode(display=False) as counter:
        technique.run(features, 10, 0, Budget(1), session.device)
    return seconds, float(counter.get_total_flops())


def mtt_iteration(session: Session, features, cache: Path, name: str = "mtt") -> tuple[float, float]:
    """Peak resident MB (Linux: the high-water mark reset before it) of one outer iteration of ``name``
    (``mtt``, or ``mtt-lean``: the same iteration with its unroll recomputed step by step), and seconds per
    iteration once warm: a run of 4 iterations less a run of 2, over 2 (start-up cancels). The first run pays
    for faulting in its memory (for ``mtt``'s full unroll, seconds), which is why it is not one of the two."""
    cls = get_technique(name)
    context = DistillContext(model=session.profile.model, cache_dir=cache)
    technique = cls(cls.configure("anchor", MTT_SETTING), context)
    technique.expert_store(features, session.device, progress=False)
    reset_peak_memory(session.device)
    technique.run(features, 10, 0, Budget(1), session.device)
    peak = peak_memory_mb(session.device)
    two = timed(lambda: technique.run(features, 10, 0, Budget(2), session.device))
    four = timed(lambda: technique.run(features, 10, 0, Budget(4), session.device))
    return (four - two) / 2, peak


def evaluation_epoch(
    session: Session, features, ipc: int, epochs: int, acceleration: Acceleration
) -> tuple[float, float]:
    """Seconds per training epoch of the protocol on ``ipc`` items per class, and one epoch's FLOPs."""
    protocol = dataclasses.replace(session.profile.protocol, epochs=epochs, seeds=(0,))
    subset = random_real_subset(features, ipc, 0)
    args = (subset.x, subset.y, features.num_classes, session.profile.model, protocol, 0, session.device, None)
    train_network(*args, acceleration)  # warm-up
    seconds = timed(lambda: train_network(*args, acceleration)) / epochs
    net = build_model(session.profile.model, features.shape, features.num_classes, 0)
    with FlopCounterMode(display=False) as counter:
        for batch in subset.x.split(protocol.batch_size):
            net(batch).sum().backward()
    return seconds, float(counter.get_total_flops())


def timing_table(
    session: Session, features, repeats: int, epochs: int, matching: tuple[str, ...] = ()
) -> tuple[float, list[dict]]:
    """The seconds table, printed: dm's iteration (and ``matching``'s: dc, dsa) and the evaluation paths, beside
    the reference's figures."""
    peak = matmul_peak_flops()
    rows = []
    seconds, flops = outer_iteration(session, features, "dm", DM_SETTING, repeats)
    rows.append(("dm outer iteration (IPC 10, batch_real 256)", "dm_iteration", seconds, flops))
    for name in matching:  # a minute or more each: the reference's DC loop counts
        seconds, flops = outer_iteration(session, features, name, GRADIENT_MATCHING_SETTINGS[name], 1)
        rows.append((f"{name} outer iteration (IPC 10, batch_real 256)", f"{name}_iteration", seconds, flops))
    for ipc in (10, 50):
        for name in ("none", "chunked", "bf16", "chunked,bf16"):  # bf16: issue #22's opt-in >= 4x target
            seconds, flops = evaluation_epoch(session, features, ipc, epochs, Acceleration.parse(name))
            label = f"evaluation epoch, IPC {ipc} ({ipc * features.num_classes} items), {name}"
            rows.append((label, f"eval_epoch_ipc{ipc}", seconds, flops))
    print(f"threads {torch.get_num_threads()}; fp32 matmul peak {peak / 1e9:.1f} GFLOP/s (measured here)\n")
    print("| work | reference s | ours s | ratio (reference / ours) | GFLOP | share of fp32 peak |")
    print("|---|---|---|---|---|---|")
    figures = []
    for label, key, seconds, flops in rows:
        reference = REFERENCE.get(key, (None, ""))[0]
        ratio = f"{reference / seconds:.2f}x" if reference else "-"
        share = flops / seconds / peak
        shown = f"{reference:.3f}" if reference else "-"
        print(f"| {label} | {shown} | {seconds:.3f} | {ratio} | {flops / 1e9:.2f} | {share:.1%} |")
        figures.append({"work": label, "reference_s": reference, "ours_s": seconds, "flops": flops, "share": share})
    return peak, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--cache-dir", type=Path, default=Path("cache"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5, help="Epochs timed per evaluation figure.")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--memory-only", action="store_true", help="Only the MTT peak-memory table.")
    parser.add_argument(
        "--matching",
        default="",
        help="Also dc and/or dsa outer iterations (comma-separated; about a minute each, twice that counting "
        "FLOPs); their reference seconds come from benchmarks.against_reference, run beside it.",
    )
    args = parser.parse_args()
    reuse_freed_memory()  # as distrack does (bench/allocator.py)
    session = anchor_session(args.params, args.cache_dir, "cpu")
    features = session.features("fsdd")
    matching = tuple(filter(None, args.matching.split(",")))
    unknown = sorted(set(matching) - set(GRADIENT_MATCHING_SETTINGS))
    if unknown:
        parser.error(f"--matching: unknown {', '.join(unknown)} (choose from dc, dsa)")
    if args.memory_only:
        peak, figures = 0.0, []
    else:
        peak, figures = timing_table(session, features, args.repeats, args.epochs, matching)
    reference_mb = REFERENCE_MTT_PEAK_MB[0]
    print("\n| work | reference peak MB | ours peak MB | reference / ours | ours s per iteration |")
    print("|---|---|---|---|---|")
    mtt = []
    for name in ("mtt-lean", "mtt"):  # the lean one first: a process's resident pages may outlive the full unroll
        seconds, peak_mb = mtt_iteration(session, features, args.cache_dir, name)
        print(
            f"| {name} outer iteration (IPC 10, 20 unrolled steps, whole set) | {reference_mb:.0f} | {peak_mb:.0f} | "
            f"{reference_mb / peak_mb:.1f}x | {seconds:.2f} |"
        )
        work = f"{name} outer iteration"
        mtt.append({"work": work, "reference_peak_mb": reference_mb, "peak_mb": peak_mb, "seconds": seconds})
    if args.json:
        payload = {"peak_flops": peak, "rows": figures, "mtt": mtt, "reference": REFERENCE}
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
