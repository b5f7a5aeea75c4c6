"""The audio-independent correctness check: scikit-learn's 8x8 ``load_digits`` as 1x8x8 "spectrograms".

The image literature's qualitative result must hold with our code: at IPC 1 and 10, dm, dsa and mtt
beat a random real subset under the same protocol. ``python -m benchmarks.digits`` runs it with full
budgets and prints a table; the test suite runs it with tiny ones."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from bench.features.store import FeatureSet, LabelledTensors
from bench.models import ModelSpec
from bench.params import FeatureParams, ProtocolParams
from bench.sets.references import random_real_subset
from bench.techniques import Budget, DistillContext, get_technique

# Depth 2: at depth 3 the last instance norm of an 8x8 input normalises over 2x2 values, which makes the
# matching losses so sharp that gradient steps on the images diverge (measured: DC and MTT then lose to
# random). Depth 2 keeps the ConvNet family and gives the literature's ordering.
DIGITS_MODEL = ModelSpec.parse({"architecture": "convnet", "depth": 2, "width": 32}, "model")
# 8x8 inputs: the feature parameters are nominal (nothing is extracted), kept for the record's sake.
DIGITS_FEATURES = FeatureParams(sample_rate=1, n_fft=1, hop_length=1, n_mels=8, frames=8)


def digits_feature_set() -> FeatureSet:
    """Deterministic split: every 5th image test, every 5th+1 validation, the rest train."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(data.target, dtype=torch.int64)
    position = torch.arange(len(y)) % 5
    train = position >= 2
    mean, std = float(x[train].mean()), float(x[train].std())
    x = (x - mean) / std

    def part(mask: torch.Tensor) -> LabelledTensors:
        return LabelledTensors(x[mask], y[mask])

    return FeatureSet(
        dataset="digits",
        class_names=[str(d) for d in range(10)],
        params=DIGITS_FEATURES,
        train=part(train),
        validation=part(position == 1),
        test=part(position == 0),
        mean=mean,
        std=std,
        data_hash="0" * 64,
        cache_key="sklearn-digits-v1",
    )


def distil(
    name: str,
    features: FeatureSet,
    ipc: int,
    iterations: int | None,
    seed: int = 0,
    overrides: dict | None = None,
    cache_dir=None,
):
    """A technique's set (``random``: the random real subset reference row, the baseline)."""
    if name == "random":
        return random_real_subset(features, ipc, seed)
    cls = get_technique(name)
    params = cls.configure("digits", overrides or {})
    context = DistillContext(model=DIGITS_MODEL, **({"cache_dir": cache_dir} if cache_dir else {}))
    return cls(params, context).run(features, ipc, seed, Budget(iterations), torch.device("cpu"))


BUDGETS = {"dm": 1000, "dsa": 200, "mtt": 500}
# Chosen on the digits validation split (2 seeds, 100 epochs): dsa lr_img 0.01 beat 0.001 at IPC 1 and
# 10; mtt lr_img 10 with lr_lr 1e-8 (1e-5 and 1e-6 collapsed the learned lr within 60 iterations).
OVERRIDES = {
    "dm": {},
    "dsa": {"batch_real": 128, "lr_img": 0.01},
    "mtt": {
        "num_experts": 4,
        "expert_train_epochs": 12,
        "max_start_epoch": 6,
        "syn_steps": 8,
        "lr_img": 10.0,
        "lr_lr": 1e-8,
    },
}


def main() -> None:
    from bench.evaluation.protocol import evaluate_set

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--scale", type=float, default=1.0, help="Multiply every iteration budget.")
    parser.add_argument("--cache-dir", type=Path, default=Path("cache"), help="Where expert trajectories go.")
    args = parser.parse_args()
    features = digits_feature_set()
    protocol = ProtocolParams(epochs=args.epochs)
    print("| technique | IPC | test accuracy | distil s |")
    print("|---|---|---|---|")
    for ipc in (1, 10):
        for name in ("random", "dm", "dsa", "mtt"):
            budget = max(1, int(BUDGETS[name] * args.scale)) if name in BUDGETS else None
            start = time.perf_counter()
            result = distil(name, features, ipc, budget, overrides=OVERRIDES.get(name), cache_dir=args.cache_dir)
            seconds = time.perf_counter() - start
            scored = evaluate_set(result.x, result.y, features, DIGITS_MODEL, protocol, torch.device("cpu"), result.lr)
            print(f"| {name} | {ipc} | {scored.test_mean:.3f} ± {scored.test_std:.3f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
