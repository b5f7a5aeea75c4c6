"""Does an opt-in evaluation speed-up keep the board's numbers? Issue #22 asks that the bf16 path score
within one std of fp32 on the board's cells, measured.

Each committed board cell named here (distillation seed 0, convnet track, quick profile) is re-scored from
its set under every speed-up in ``--paths``, with the protocol's five evaluation seeds, and printed beside the
fp32 figure its record holds (the default path: ``convnet-sgd-v1``). A path whose mean moves by more than
the fp32 std is marked; ``none`` (the default path again) checks that the record reproduces bit for bit.
The sets are read from where the records say they are (``outputs/sets``; run the grid or ``dvc repro``
first if a set is missing).

    DISTRACK_DATA_ROOT=../shared/data python -m benchmarks.accelerated_accuracy \\
        [--cells fsdd/dm/10,esc10/idm/1] [--paths chunked,bf16,chunked+bf16] [--json out.json]

Seconds are each path's training seconds per evaluation seed: read them side by side within one run only, on an
otherwise idle machine (``benchmarks.compare`` times the epochs alone)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from bench.evaluation.acceleration import Acceleration
from bench.evaluation.tracks.configure import build_track
from bench.pipeline.grid import GridCell
from bench.pipeline.jobs import load_set_for
from benchmarks.board_cells import cells_parser, quick_session

DEFAULT_CELLS = (
    "fsdd/dm/1,fsdd/dm/10,fsdd/idm/10,esc10/dm/10,philharmonia/dm/10,speechcommands/dm/1,speechcommands/dm/10"
)
FP32 = "convnet-sgd-v1"


def board_record(root: Path, cell: str) -> dict:
    dataset, technique, ipc = cell.split("/")
    path = GridCell(dataset, technique, int(ipc), 0).record_path(root / "leaderboard" / "results", "quick")
    if not path.exists():
        raise SystemExit(f"--cells: no committed record {path}")
    return json.loads(path.read_text())


def spread(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.pstdev(values)


def main() -> None:
    parser = cells_parser(__doc__, DEFAULT_CELLS)
    parser.add_argument("--paths", default="chunked,bf16,chunked+bf16", help="speed-ups, '+' joins several")
    args = parser.parse_args()
    session = quick_session(args)
    paths = args.paths.split(",")
    rows = []
    for cell in args.cells.split(","):
        record = board_record(args.root, cell)
        fp32 = record["results"]["convnet"]
        if fp32["protocol_id"] != FP32:
            raise SystemExit(f"{cell}: its record's convnet result is {fp32['protocol_id']}, not {FP32}")
        dataset = record["dataset"]["name"]
        labelled = load_set_for(session, dataset, args.root / record["evaluated_set"]["source"])
        features = session.features(dataset)
        row = {"cell": cell, FP32: fp32["metrics"]["test_accuracy"]["per_seed"], "seconds": {}}
        row["seconds"][FP32] = statistics.fmean(fp32["cost"]["train_seconds_per_seed"])
        for name in paths:
            track = build_track(
                session, "convnet", dataset=dataset, acceleration=Acceleration.parse(name.replace("+", ","))
            )
            result = track.evaluate(labelled, features)
            row[name] = result.metrics["test_accuracy"]
            row["seconds"][name] = statistics.fmean(result.cost["train_seconds_per_seed"])
            print(f"{cell} {name}: {spread(row[name])[0]:.3f} ± {spread(row[name])[1]:.3f}", flush=True)
        rows.append(row)
    print(f"\n| cell | fp32 ({FP32}, record) | " + " | ".join(paths) + " |")
    print("|---|---|" + "---|" * len(paths))
    for row in rows:
        mean, std = spread(row[FP32])
        cells = [f"{mean:.3f} ± {std:.3f}"]
        for name in paths:
            m, s = spread(row[name])
            if name == "none":  # the record's own path: it must reproduce the record bit for bit
                mark = " (= record)" if row[name] == row[FP32] else " (differs from the record)"
            else:
                mark = "" if abs(m - mean) <= std else " (moved > 1 std)"
            cells.append(f"{m:.3f} ± {s:.3f}{mark}")
        print(f"| {row['cell']} | " + " | ".join(cells) + " |")
    print("\nmean training seconds per evaluation seed (this run; the fp32 column is the record's own run):")
    for row in rows:
        print(f"  {row['cell']}: " + ", ".join(f"{k} {v:.1f}" for k, v in row["seconds"].items()))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
