"""The speed and memory harness (figures, not timed tests).

    python -m benchmarks.run [--device cpu|cuda] [--profiles quick,standard] [--ipc 1,10,50]
                             [--techniques dm,dsa,mtt] [--eval-epochs 20]
                             [--accelerate channels_last,bf16,compile,chunked]
                             [--json out.json]

For FSDD ($DISTRACK_DATA_ROOT) and each profile it prints:
- feature extraction: clips per second (no cache, the profile's features), one reader thread and a pool
  of one thread per core;
- per technique and IPC: seconds per outer iteration (mean of --repeats after one warm-up iteration;
  MTT's experts are trained first and not counted) and the peak memory (CUDA max_memory_allocated on a
  GPU; on a CPU the resident high-water mark since the cell began on Linux, over the whole run elsewhere);
- per IPC: evaluation seconds per seed, sequential and vectorised (all protocol seeds trained together
  with torch.func), and their ratio; with --accelerate, also sequential with each opt-in speed-up alone
  (compile's start-up reported apart). Evaluation is timed for --eval-epochs epochs and scaled linearly to
  the profile's epochs (each epoch does the same work)."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.allocator import reuse_freed_memory
from bench.data.registry import open_dataset
from bench.device import peak_memory_mb, reset_peak_memory, resolve_device
from bench.evaluation.acceleration import NAMES, NONE, Acceleration
from bench.evaluation.protocol import train_network
from bench.evaluation.vectorised import train_networks
from bench.features.store import load_feature_set
from bench.params import load_params, load_profile
from bench.sets.references import random_real_subset
from bench.techniques import Budget, DistillContext, get_technique


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_on(device: torch.device, work: Callable[[], object]) -> float:
    """Seconds ``work`` takes on ``device``: a GPU is synchronised before and after, so queued kernels count."""
    _sync(device)
    start = time.perf_counter()
    work()
    _sync(device)
    return time.perf_counter() - start


def seconds_per_iteration(name: str, features, ipc: int, profile, device, repeats: int, cache: Path) -> float:
    cls = get_technique(name)
    technique = cls(cls.configure(profile.budgets), DistillContext(model=profile.model, cache_dir=cache))
    if name == "mtt":
        technique.expert_store(features, device, progress=False)  # a separate artefact, not an iteration
    technique.run(features, ipc, 0, Budget(1), device)  # warm-up
    return timed_on(device, lambda: technique.run(features, ipc, 0, Budget(repeats), device)) / repeats


def evaluation_seconds(features, ipc: int, profile, device, epochs: int, accelerations: list[str]) -> dict[str, float]:
    """Seconds per seed for the profile's epochs, sequential and vectorised (timed over ``epochs``), and
    sequential with each opt-in acceleration alone (compile's start-up timed apart, as ``compile_startup_s``)."""
    protocol = dataclasses.replace(profile.protocol, epochs=epochs)
    subset = random_real_subset(features, ipc, 0)
    scale = profile.protocol.epochs / epochs

    def per_seed(train_all) -> float:
        return timed_on(device, train_all) / len(protocol.seeds) * scale

    def sequential_with(acceleration: Acceleration) -> float:
        args = (subset.x, subset.y, features.num_classes, profile.model, protocol)
        return per_seed(lambda: [train_network(*args, seed, device, None, acceleration) for seed in protocol.seeds])

    sequential = sequential_with(NONE)
    vectorised = per_seed(
        lambda: train_networks(subset.x, subset.y, features.num_classes, profile.model, protocol, device)
    )
    row = {"sequential_s_per_seed": sequential, "vectorised_s_per_seed": vectorised, "ratio": sequential / vectorised}
    if device.type == "cuda":  # what the protocol's full fp32 convolutions (bench/device.py) cost against TF32
        full_fp32, torch.backends.cudnn.allow_tf32 = torch.backends.cudnn.allow_tf32, True
        try:
            row["tf32_s_per_seed"] = sequential_with(NONE)
        finally:
            torch.backends.cudnn.allow_tf32 = full_fp32
    for name in accelerations:
        acceleration = Acceleration.parse(name)
        if acceleration.compile:  # compiling is a one-off cost: timed apart, never scaled by the epochs
            once = dataclasses.replace(protocol, epochs=1)
            args = (subset.x, subset.y, features.num_classes, profile.model, once, 0, device, None, acceleration)
            row[f"{name}_startup_s"] = timed_on(device, functools.partial(train_network, *args))
        row[f"{name}_s_per_seed"] = sequential_with(acceleration)
    return row


def feature_rate(dataset, features_params, workers: int) -> tuple[Any, float]:
    """Clips per second of a cold extraction (no cache) with ``workers`` reader threads."""
    start = time.perf_counter()
    features = load_feature_set(dataset, features_params, None, workers=workers)
    clips = len(features.train.y) + len(features.validation.y) + len(features.test.y)
    return features, clips / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--profiles", default="quick,standard")
    parser.add_argument("--techniques", default="dm,dsa,mtt", help="Empty: time evaluation only.")
    parser.add_argument("--ipc", default="1,10,50")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--eval-epochs", type=int, default=20)
    parser.add_argument(
        "--accelerate",
        default="",
        help=f"Also time sequential evaluation with each of these alone ({','.join(NAMES)}).",
    )
    parser.add_argument("--json", type=Path, default=None, help="Also write every figure here.")
    args = parser.parse_args()
    reuse_freed_memory()  # as distrack does (bench/allocator.py)
    params = load_params("params.yaml")
    device = resolve_device(args.device)
    data_root = Path(os.environ["DISTRACK_DATA_ROOT"])
    dataset = open_dataset("fsdd", data_root, params)
    report: dict[str, Any] = {"device": str(device), "threads": torch.get_num_threads(), "profiles": {}}

    def save() -> None:
        """Rewritten after every row, so a run stopped by a time limit (benchmarks/gpu.sh) keeps its figures."""
        if args.json:
            partial = args.json.with_suffix(".partial")
            partial.write_text(json.dumps(report, indent=2))
            partial.replace(args.json)

    print(f"fsdd, device {device}, {torch.get_num_threads()} CPU threads")
    with tempfile.TemporaryDirectory(prefix="distrack-bench-") as scratch:
        for profile_name in args.profiles.split(","):
            profile = load_profile(params, profile_name)
            cache = Path(scratch) / profile_name
            pool = os.cpu_count() or 1
            features, one_thread = feature_rate(dataset, profile.features_for("fsdd"), workers=1)
            _, pooled = feature_rate(dataset, profile.features_for("fsdd"), workers=pool)
            figures: dict[str, Any] = {
                "feature_clips_per_second": one_thread,
                "feature_clips_per_second_thread_pool": pooled,
                "feature_pool_workers": pool,
                "cells": [],
            }
            report["profiles"][profile_name] = figures
            print(
                f"\n## profile {profile_name}: features {features.shape}, {one_thread:.0f} clips/s extracted "
                f"with one thread ({pooled:.0f} with a pool of {pool})"
            )
            print("| technique | IPC | s / outer iteration | peak MB |")
            print("|---|---|---|---|")
            for name in (n for n in args.techniques.split(",") if n):
                for ipc in (int(k) for k in args.ipc.split(",")):
                    reset_peak_memory(device)
                    seconds = seconds_per_iteration(name, features, ipc, profile, device, args.repeats, cache)
                    peak = peak_memory_mb(device)
                    figures["cells"].append(
                        {"technique": name, "ipc": ipc, "s_per_iteration": seconds, "peak_mb": peak}
                    )
                    print(f"| {name} | {ipc} | {seconds:.3f} | {peak:.0f} |", flush=True)
                    save()
            accelerations = [name for name in args.accelerate.split(",") if name]
            extra = "".join(f" {name} |" for name in accelerations)
            epochs = profile.protocol.epochs
            print(f"\n| IPC | evaluation s/seed sequential | vectorised | ratio |{extra} ({epochs} epochs) |")
            print("|---|---|---|---|" + "---|" * (len(accelerations) + 1))
            figures["evaluation"] = []
            for ipc in (int(k) for k in args.ipc.split(",")):
                row = evaluation_seconds(features, ipc, profile, device, args.eval_epochs, accelerations)
                figures["evaluation"].append({"ipc": ipc, **row})
                cells = "".join(f" {row[f'{name}_s_per_seed']:.2f} |" for name in accelerations)
                if "tf32_s_per_seed" in row:
                    cells += f" tf32 {row['tf32_s_per_seed']:.2f} |"
                if "compile_startup_s" in row:
                    cells += f" compile start-up {row['compile_startup_s']:.1f} s |"
                print(
                    f"| {ipc} | {row['sequential_s_per_seed']:.2f} | {row['vectorised_s_per_seed']:.2f} "
                    f"| {row['ratio']:.2f} |{cells} |",
                    flush=True,
                )
                save()
    save()


if __name__ == "__main__":
    main()
