"""The least time a grid's work can take on this host: its tracks' (and techniques') arithmetic (FLOPs counted by
``torch.utils.flop_counter``) over the grid's cells, divided by the fp32 matmul peak measured in the same run.

    DISTRACK_DATA_ROOT=../shared/data DISTRACK_MODELS_ROOT=../shared/models python -m benchmarks.grid_floor \\
        [--grid params.yaml] [--seeds 3] [--work evaluation|distillation|all] [--json out.json]

Each (dataset, IPC) of the grid is scored once, on its random reference set (seed 0), by every track of the grid
under the FLOP counter; a set's training cost depends on its item count, not on the technique that made it, so
that figure stands for every set-bearing cell of the pair (the techniques and the per-IPC references, times
``--seeds`` distillation seeds). What a grid builds once per dataset in stages of its own (kd's teacher, the
shifted test splits, mtt's experts) is built first, uncounted. ``--work distillation`` (or ``all``) counts each
technique's distillation once per (dataset, IPC) and seed. References without a set per IPC (zero-shot, full)
and everything outside torch (YAMNet's TFLite forward, scikit-learn's fits) count as nothing, and so does
distillation unless asked: the figure is a floor. A grid whose floor exceeds a time budget cannot meet it on
this host at this protocol, however fast the code."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from bench.cli.run_cmd import DEFAULT_TRACK_IPC
from bench.errors import UserError
from bench.evaluation.tracks.configure import build_track
from bench.evaluation.tracks.registry import track_names
from bench.params import load_params
from bench.pipeline.grid import load_grid
from bench.pipeline.jobs import distill_to_file
from bench.pipeline.runner import parse_track_ipc
from bench.session import Session
from bench.sets.references import REFERENCES
from bench.techniques.configure import build_technique
from benchmarks.board_cells import quick_session
from benchmarks.compare import matmul_peak_flops


class FlopTally(TorchDispatchMode):
    """The FLOPs of every operator run inside it, by ``torch.utils.flop_counter``'s formulas. Unlike
    ``FlopCounterMode`` it tracks no module hierarchy, whose hooks grew to 24 GB over a track's training."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def counted_distillation(
    session: Session, technique: str, dataset: str, ipc: int, scratch: Path, iterations: int | None
) -> float:
    """The FLOPs of one distillation of ``iterations`` (None: the budget's). A check on the result of so short a
    run (mtt: its learned learning rate still negative) refuses the set, not the arithmetic: that is counted."""
    tally = FlopTally()
    try:
        with tally:
            distill_to_file(session, technique, dataset, ipc, 0, scratch / "set.safetensors", iterations=iterations)
    except UserError as refused:
        print(f"  ({technique} after {iterations} iteration(s): {refused}; its arithmetic is counted)")
    return float(tally.total)


def distillation_flops(session: Session, technique: str, dataset: str, ipc: int, scratch: Path) -> float:
    """One distillation's FLOPs at the profile's budget: an iterative technique counted for one iteration and for
    two and extrapolated to its budget (each iteration does the same work), any other counted whole."""
    budget = getattr(build_technique(session, technique, (), dataset).params, "iterations", None)
    if budget is None or budget <= 2:
        return counted_distillation(session, technique, dataset, ipc, scratch, None)
    one, two = (counted_distillation(session, technique, dataset, ipc, scratch, n) for n in (1, 2))
    return one + (budget - 1) * (two - one)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", type=Path, default=Path("params.yaml"), help="a params file with a grid section")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--cache-dir", type=Path, default=Path("cache"))
    parser.add_argument("--seeds", type=int, default=None, help="distillation seeds (default: the grid's)")
    parser.add_argument(
        "--track-ipc",
        action="append",
        default=None,
        help=f"TRACK=IPC[+IPC]: the IPC values a track scores, as distrack run's ({' '.join(DEFAULT_TRACK_IPC)})",
    )
    parser.add_argument(
        "--peak-gflops",
        type=float,
        default=None,
        help="divide by this fp32 peak instead of the one measured here (e.g. the best this host has shown)",
    )
    parser.add_argument(
        "--work",
        choices=("evaluation", "distillation", "all"),
        default="evaluation",
        help="what to count: the tracks' evaluation of every cell, each technique's distillation (seed 0), or both",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    grid = load_grid(load_params(args.grid))
    seeds = args.seeds or len(grid.seeds)
    try:
        track_ipc = parse_track_ipc(tuple(args.track_ipc or DEFAULT_TRACK_IPC), track_names())
    except UserError as error:
        parser.error(str(error))
    per_pair = len(grid.techniques) + sum(1 for name in grid.references if REFERENCES.get(name).per_ipc)
    session = quick_session(args)
    measured = matmul_peak_flops()
    peak = args.peak_gflops * 1e9 if args.peak_gflops else measured
    print(f"threads {torch.get_num_threads()}; fp32 matmul peak {measured / 1e9:.1f} GFLOP/s measured here, ", end="")
    print(f"{peak / 1e9:.1f} used")
    print(f"{per_pair} set-bearing cells per (dataset, IPC), {seeds} distillation seed(s)\n")
    print("| dataset | IPC | work | GFLOP per cell | floor s per cell |")
    print("|---|---|---|---|---|")
    rows, by_work = [], defaultdict(float)

    def count(dataset: str, ipc: int, work: str, flops: float, cells: int, start: float) -> None:
        rows.append({"dataset": dataset, "ipc": ipc, "work": work, "flops": flops})
        by_work[work] += flops * cells
        took = time.perf_counter() - start
        print(
            f"| {dataset} | {ipc} | {work} | {flops / 1e9:,.1f} | {flops / peak:.1f} |  (counted in {took:.0f} s)",
            flush=True,
        )

    with tempfile.TemporaryDirectory(prefix="grid-floor-") as folder:  # the sets distilled to be counted
        scratch = Path(folder)
        for dataset in grid.datasets:
            features = session.features(dataset)
            names = grid.tracks if args.work != "distillation" else ()
            tracks = [build_track(session, name, dataset=dataset) for name in names]
            warm_up = REFERENCES.get("random")().materialise(features, 1, 0)
            for track in tracks:  # the dataset's own artefacts (kd's teacher, the shifted splits): their own stages
                if track.supports(warm_up):
                    track.evaluate(warm_up, features)
            for ipc in grid.ipc:
                labelled = REFERENCES.get("random")().materialise(features, ipc, 0)
                for track in tracks:
                    if not track.supports(labelled) or ipc not in track_ipc.get(track.name, (ipc,)):
                        continue
                    start = time.perf_counter()
                    with FlopTally() as tally:
                        track.evaluate(labelled, features)
                    count(dataset, ipc, track.name, float(tally.total), per_pair * seeds, start)
                for technique in grid.techniques if args.work != "evaluation" else ():
                    if ipc == grid.ipc[0]:  # its teacher or experts: stages of their own
                        counted_distillation(session, technique, dataset, ipc, scratch, 1)
                    start = time.perf_counter()
                    flops = distillation_flops(session, technique, dataset, ipc, scratch)
                    count(dataset, ipc, f"distill {technique}", flops, seeds, start)
    total = sum(by_work.values())
    print(f"\nthe whole grid ({per_pair} cells per pair, {seeds} seed(s)), {args.work}:")
    print("| work | TFLOP | floor minutes |")
    print("|---|---|---|")
    for name, flops in sorted(by_work.items(), key=lambda item: -item[1]):
        print(f"| {name} | {flops / 1e12:,.1f} | {flops / peak / 60:.1f} |")
    print(f"| **all** | **{total / 1e12:,.1f}** | **{total / peak / 60:.1f}** |")
    if args.json:
        payload = {"peak_flops": peak, "measured_peak_flops": measured, "cells_per_pair": per_pair, "seeds": seeds}
        payload |= {"rows": rows, "total": total}
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
