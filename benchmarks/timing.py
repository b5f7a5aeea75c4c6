"""Times one outer iteration of dm, dsa and mtt and one evaluation run at IPC 1, 10 and 50 on FSDD.

    python -m benchmarks.timing [--profile quick] [--device cpu] [--eval-epochs 300]

Needs $DISTRACK_DATA_ROOT. Prints seconds per outer iteration (mean of a few, after a warm-up one),
seconds of one evaluation network trained for the profile's epochs, and the peak memory."""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import torch

from bench.data.registry import open_dataset
from bench.device import peak_memory_mb, resolve_device
from bench.evaluation.protocol import train_network
from bench.evaluation.references import random_real_subset
from bench.features.store import load_feature_set
from bench.params import load_params, load_profile
from bench.techniques import Budget, DistillContext, get_technique


def time_iterations(name: str, features, ipc: int, profile, device, repeats: int, cache: Path) -> float:
    cls = get_technique(name)
    params = cls.configure(profile.budgets)
    technique = cls(params, DistillContext(model=profile.model, profile=profile.name, cache_dir=cache))
    if name == "mtt":
        technique.expert_store(features, device, progress=False)  # experts are a separate artefact
    technique.run(features, ipc, 0, Budget(1), device)  # warm-up
    start = time.perf_counter()
    technique.run(features, ipc, 0, Budget(repeats), device)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dataset", default="fsdd")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--eval-epochs", type=int, default=None, help="Default: the profile's epochs.")
    parser.add_argument("--ipc", default="1,10,50")
    args = parser.parse_args()
    params = load_params("params.yaml")
    profile = load_profile(params, args.profile)
    device = resolve_device(args.device)
    data_root = Path(os.environ["DISTRACK_DATA_ROOT"])
    cache = Path("cache")
    features = load_feature_set(
        open_dataset(args.dataset, data_root, params), profile.features_for(args.dataset), cache
    )
    protocol = dataclasses.replace(profile.protocol, epochs=args.eval_epochs or profile.protocol.epochs)
    print(f"{args.dataset}, profile {profile.name}, device {device}, {torch.get_num_threads()} threads")
    print(f"| IPC | dm s/it | dsa s/it | mtt s/it | evaluation s (1 network, {protocol.epochs} epochs) | peak MB |")
    print("|---|---|---|---|---|---|")
    for ipc in (int(k) for k in args.ipc.split(",")):
        row = [time_iterations(n, features, ipc, profile, device, args.repeats, cache) for n in ("dm", "dsa", "mtt")]
        subset = random_real_subset(features, ipc, 0)
        start = time.perf_counter()
        train_network(subset.x, subset.y, features.num_classes, profile.model, protocol, 0, device)
        evaluation = time.perf_counter() - start
        print(
            f"| {ipc} | {row[0]:.2f} | {row[1]:.2f} | {row[2]:.2f} | {evaluation:.1f} | {peak_memory_mb(device):.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
