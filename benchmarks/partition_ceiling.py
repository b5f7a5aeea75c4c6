"""What do a partitioned set's source clips score? (issue #21's IPC 10 anchor bar.)

A factorised IPC ``k`` set (idm, idc) stores ``k`` items per class, each decoding into ``factor`` training
items at a lower resolution, so a network trains on ``k * factor`` items per class. This scores the real
clips such a set could start from, ``k * factor`` per class (seed 0's random subset), three ways:

* ``real``: as they are (``factor`` times the set's stored bytes);
* ``time-segments``: squeezed ``factor`` to a stored item along time and decoded back (idm's partitioning);
* ``upsample``: each at ``1/sqrt(factor)`` of the resolution in both axes, bilinearly upsampled (the
  ``upsample`` decoder; ``factor`` must be a square).

If a distilled set already scores what its undegraded source clips do, the partitioning has no further
resolution to recover, and a higher bar needs more than a better decoder. The convnet track scores each
(validation and test accuracy, the profile's protocol)::

    DISTRACK_DATA_ROOT=../shared/data python -m benchmarks.partition_ceiling [--dataset fsdd] [--ipc 10]
        [--factor 4] [--profile quick] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

import torch

from bench.allocator import reuse_freed_memory
from bench.evaluation.tracks.configure import build_track
from bench.session import Session
from bench.sets.decoders import Decoder
from bench.sets.files import LabelledSet
from bench.sets.references import random_real_subset
from bench.techniques.idm import squeeze_segments


def degraded(subset: LabelledSet, factor: int) -> dict[str, torch.Tensor]:
    """The subset's items (sorted by class) as they are and through each decoder's loss of resolution."""
    order = torch.argsort(subset.y, stable=True)
    x = subset.x[order]
    variants = {"real": x}
    segments = Decoder.from_spec({"name": "time-segments", "factor": factor}, "--factor")
    variants["time-segments"] = segments.decode(squeeze_segments(x, factor))
    side = math.isqrt(factor)
    if side * side == factor:
        small = torch.nn.functional.interpolate(x, scale_factor=1 / side, mode="area")
        variants["upsample"] = Decoder.from_spec({"name": "upsample", "factor": side}, "--factor").decode(small)
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fsdd")
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--factor", type=int, default=4)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seeds", default="0,1,2", help="Evaluation seeds.")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--cache-dir", type=Path, default=Path("cache"))
    args = parser.parse_args()
    reuse_freed_memory()  # as distrack does (bench/allocator.py)
    session = Session(args.params, args.profile, None, args.cache_dir, "cpu", progress=False, dataset_dirs={})
    features = session.features(args.dataset)
    subset = random_real_subset(features, args.ipc * args.factor, 0)
    protocol = dataclasses.replace(session.profile.protocol, seeds=tuple(int(s) for s in args.seeds.split(",")))
    track = build_track(session, "convnet", dataset=args.dataset, protocol=protocol)
    y = torch.sort(subset.y, stable=True).values
    print(f"{args.dataset}: {args.ipc * args.factor} real clips per class (seed 0), {args.profile} profile")
    print("| clips | validation | test |")
    print("|---|---|---|")
    for name, x in degraded(subset, args.factor).items():
        result = track.evaluate(LabelledSet(x.contiguous(), y.clone()), features)
        cells = ["{:.3f} ± {:.3f}".format(*result.summary(m)) for m in ("validation_accuracy", "test_accuracy")]
        print(f"| {name} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
