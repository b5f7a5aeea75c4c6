"""Where training the protocol's seeds together (``--vectorise``) stops paying: a sweep over set sizes.

    python -m benchmarks.vectorise_crossover [--device cuda] [--profiles quick,standard] [--ipc 1,2,5,10,20,50]
                                             [--epochs 10] [--json out.json]

For each profile's network and input shape and each IPC (10 classes, so 10 x IPC items), it prints the
forward work of one training step (items per step x forward FLOPs per item, counted with
torch.utils.flop_counter) and the seconds per epoch per seed of the sequential and the vectorised path,
timed over ``--epochs`` after one untimed epoch each, side by side in one run. Random inputs: the speed of a
step does not depend on what the items hold. ``vectorise auto`` (bench/evaluation/vectorised.py) picks the
vectorised path on a GPU only where one step's work is below the crossover this sweep finds."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from bench.device import resolve_device
from bench.evaluation.protocol import train_network
from bench.evaluation.vectorised import step_forward_gflop, train_networks
from bench.params import load_params, load_profile
from benchmarks.run import timed_on

CLASSES = 10


def crossover_row(profile, ipc: int, epochs: int, device: torch.device) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(ipc)
    x = torch.randn((CLASSES * ipc, *profile.features.shape), generator=generator).to(device)
    y = torch.arange(CLASSES).repeat_interleave(ipc).to(device)
    seeds = profile.protocol.seeds
    one = dataclasses.replace(profile.protocol, epochs=1)
    timed = dataclasses.replace(profile.protocol, epochs=epochs)

    def sequential(protocol) -> None:
        for seed in seeds:
            train_network(x, y, CLASSES, profile.model, protocol, seed, device)

    def vectorised(protocol) -> None:
        train_networks(x, y, CLASSES, profile.model, protocol, device)

    sequential(one), vectorised(one)  # warm-up: cuDNN's algorithm choice, allocator, lazy inits
    per = epochs * len(seeds)
    seq = timed_on(device, lambda: sequential(timed)) / per
    vec = timed_on(device, lambda: vectorised(timed)) / per
    network = profile.model.build(profile.features.shape, CLASSES, 0)
    return {
        "ipc": ipc,
        "items": len(y),
        "items_per_step": min(profile.protocol.batch_size, len(y)),
        "step_forward_gflop": step_forward_gflop(network, x, profile.protocol.batch_size),  # what auto weighs
        "sequential_s_per_epoch_seed": seq,
        "vectorised_s_per_epoch_seed": vec,
        "ratio": seq / vec,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--profiles", default="quick,standard")
    parser.add_argument("--ipc", default="1,2,5,10,20,50")
    parser.add_argument("--epochs", type=int, default=10, help="Timed epochs per point, after one untimed.")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    device = resolve_device(args.device)
    params = load_params(args.params)
    rows: list[dict[str, Any]] = []
    print(f"device {device}; {CLASSES} classes; ratio = sequential / vectorised (above 1: vectorised is faster)")
    print("| profile | IPC | items / step | forward GFLOP / step | sequential s/epoch/seed | vectorised | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name in args.profiles.split(","):
        profile = load_profile(params, name)
        for ipc in (int(k) for k in args.ipc.split(",")):
            row = {"profile": name, **crossover_row(profile, ipc, args.epochs, device)}
            rows.append(row)
            seq, vec = row["sequential_s_per_epoch_seed"] * 1e3, row["vectorised_s_per_epoch_seed"] * 1e3
            print(
                f"| {name} | {ipc} | {row['items_per_step']} | {row['step_forward_gflop']:.2f} "
                f"| {seq:.1f} ms | {vec:.1f} ms | {row['ratio']:.2f} |",
                flush=True,
            )
            if args.json:
                args.json.write_text(json.dumps({"device": str(device), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
