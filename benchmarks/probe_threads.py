"""The probe tracks' classifier fits with the machine's default BLAS threads (protocol v1: one per core) beside one
thread (v2), side by side in one run: seconds, and whether the two give the same numbers.

    DISTRACK_DATA_ROOT=../shared/data DISTRACK_MODELS_ROOT=../shared/models python -m benchmarks.probe_threads \\
        [--cells esc10/random/10,fsdd/dm/10] [--embedder yamnet] [--rounds 2] [--json out.json]

A cell is ``dataset/technique/ipc``: ``random`` is the board's random reference row (seed 0), any other technique
the board's seed-0 set under ``outputs/sets`` (run the grid first if it is missing). The set is embedded once (the
embedding is the same in both); each round then fits and scores every classifier candidate exactly as the track
does, once per setting, interleaved. Read the seconds as a ratio within one run on an otherwise idle machine."""

from __future__ import annotations

import json
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from bench.embedders.store import real_embeddings
from bench.evaluation.tracks.configure import build_track
from bench.evaluation.tracks.probe import classifier_factories, embed_set
from bench.pipeline.grid import GridCell
from bench.pipeline.jobs import load_set_for
from bench.session import Session
from bench.sets.references import REFERENCES
from benchmarks.board_cells import cells_parser, quick_session

DEFAULT_CELLS = "esc10/random/10,esc10/dm/10,fsdd/random/10,fsdd/dm/10,speechcommands/herding/10,philharmonia/random/10"
SETTINGS = {"default": None, "one thread": 1}  # threadpoolctl's limit: None leaves every pool as it is


def _set(session: Session, root: Path, cell: str):
    dataset, technique, ipc = cell.split("/")
    if technique in REFERENCES.names():
        return dataset, REFERENCES.get(technique)().materialise(session.features(dataset), int(ipc), 0)
    path = GridCell(dataset, technique, int(ipc), 0).set_path(root / "outputs", "quick")
    if not path.is_file():
        raise SystemExit(f"--cells {cell}: no set at {path}; run the grid (or dvc repro) first")
    return dataset, load_set_for(session, dataset, path)


def main() -> None:
    parser = cells_parser(__doc__, DEFAULT_CELLS)
    parser.add_argument("--embedder", default="yamnet", choices=("yamnet", "mfcc"))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    session = quick_session(args)
    factories = classifier_factories()  # scikit-learn's pools loaded before any limit (threadpoolctl's rule)
    rows = []
    print(f"{'cell':<28} {'default s':>10} {'1 thread s':>10} {'ratio':>6}  same numbers")
    for cell in args.cells.split(","):
        dataset, labelled = _set(session, args.root, cell)
        track = build_track(session, f"probe-{args.embedder}", dataset=dataset)
        features = session.features(dataset)
        real = real_embeddings(session, dataset, track.embedder)
        x, y, rendering = embed_set(track.embedder, labelled, features, real, track.params.griffin_lim_iterations)
        seconds: dict[str, list[float]] = {name: [] for name in SETTINGS}
        metrics: dict[str, dict] = {}
        for _ in range(args.rounds):
            for name, limit in SETTINGS.items():
                with threadpool_limits(limits=limit):
                    start = time.perf_counter()
                    metrics[name], _ = track.fit_classifiers(factories, x, y.numpy(), real, features, rendering)
                    seconds[name].append(time.perf_counter() - start)
        best = {name: min(values) for name, values in seconds.items()}
        differing = sorted(k for k in metrics["default"] if metrics["default"][k] != metrics["one thread"][k])
        same = "yes" if not differing else "no: " + ", ".join(differing)
        ratio = best["default"] / best["one thread"]
        print(f"{cell:<28} {best['default']:>10.2f} {best['one thread']:>10.2f} {ratio:>5.1f}x  {same}", flush=True)
        rows.append({"cell": cell, "seconds": seconds, "metrics": metrics, "differing": differing})
    total = {name: sum(min(r["seconds"][name]) for r in rows) for name in SETTINGS}
    print(
        f"{'all cells':<28} {total['default']:>10.2f} {total['one thread']:>10.2f} "
        f"{total['default'] / total['one thread']:>5.1f}x  (best of {args.rounds} each)"
    )
    if args.json:
        args.json.write_text(json.dumps({"embedder": args.embedder, "cells": rows}, indent=2))


if __name__ == "__main__":
    main()
