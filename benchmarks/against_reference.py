"""Ours and the reference DatasetCondensation code timed side by side in one run (issue #22): seconds per
outer iteration of DC, DSA and DM, same FSDD clips (``split: reference``), 1x32x32 log-mels, width-64 ConvNet,
IPC 10, batch_real 256, the reference's loop counts, on CPU, interleaved; and seconds per training epoch of the
evaluation (``eval10``, ``eval50``: a random real subset of 10 or 50 items per class, batch 256, SGD with
momentum 0.9 and weight decay 5e-4, no augmentation), the reference's ``utils.epoch`` on its own ConvNet beside
our protocol's training loop.

The reference code cannot ship here, so it is read from a checkout you name (unmodified; tested at its commit
53f63a6)::

    git clone https://github.com/VICO-UoE/DatasetCondensation /tmp/dc-reference
    DISTRACK_DATA_ROOT=../shared/data python -m benchmarks.against_reference --reference /tmp/dc-reference

Its scripts (``main.py`` for DC and DSA, ``main_DM.py``) are run as they are, through their own command
lines: ``get_dataset`` is pointed at our FSDD features, evaluation is switched off (``--num_eval 0``), and
torchvision, which they import for dataset loaders and image saving this run never uses, is stood in for
when it is not installed; its DiffAugment's output is copied into the default memory layout, which torch 2.x needs (see
``_contiguous``). A script's seconds per iteration are the difference between its run with
``--Iteration n`` and with ``--Iteration 0`` (both train ``n + 1`` and one iteration: ``range(Iteration + 1)``),
divided by ``n``, so its start-up cancels; ours likewise, between ``n + 1`` iterations and one.

Not the same augmentations under DSA: the reference draws its image strategy
(``color_crop_cutout_flip_scale_rotate``), ours its audio one (time shift and stretch, frequency shift, masks,
gain); both apply one randomly chosen op per call, alike to the real and the synthetic batch, so the work is
comparable, not identical.

Each measurement runs in a fresh process, as each code runs for its users: ours with the C allocator set the
way ``distrack`` sets it (``bench/allocator.py``: freed memory reused instead of unmapped; ``DISTRACK_MALLOC=system``
turns it off), the reference with glibc's defaults, or with our setting as well under ``--reference-malloc reuse``,
which shows what the setting alone is worth."""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import io
import json
import os
import subprocess
import sys
import tempfile
import types
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import Dataset

from bench.allocator import CHILD_ENV, choice, reuse_freed_memory
from bench.evaluation.acceleration import Acceleration
from bench.sets.references import random_real_subset
from bench.techniques import Budget, DistillContext, get_technique
from benchmarks.anchor import anchor_session
from benchmarks.compare import DM_SETTING, GRADIENT_MATCHING_SETTINGS, evaluation_epoch, timed

IPC = 10
# Each work: the reference script and its flags, our technique and its params (the reference's setting).
WORKS = {
    "dc": ("main", ["--method", "DC", "--init", "real"], GRADIENT_MATCHING_SETTINGS["dc"]),
    "dsa": (
        "main",
        ["--method", "DSA", "--init", "real", "--dsa_strategy", "color_crop_cutout_flip_scale_rotate"],
        GRADIENT_MATCHING_SETTINGS["dsa"],
    ),
    "dm": ("main_DM", ["--dsa_strategy", "none"], DM_SETTING),
}
DEFAULT_ITERATIONS = {"dc": 1, "dsa": 1, "dm": 5}
# Evaluation works: items per class of the subset trained on, and epochs timed (each side warmed up first).
EVAL_WORKS = {"eval10": (10, 10), "eval50": (50, 3)}


class ClipDataset(Dataset):
    """What the reference's ``get_dataset`` hands back: (item, int label) pairs."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y.tolist()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.x[index], self.y[index]


def _stand_in_torchvision() -> None:
    """Modules the reference imports at the top for CIFAR loaders and PNG saving, neither called here."""
    try:
        importlib.import_module("torchvision")
        return
    except ImportError:
        pass
    root = types.ModuleType("torchvision")
    for name in ("datasets", "transforms", "utils"):
        module = types.ModuleType(f"torchvision.{name}")
        setattr(root, name, module)
        sys.modules[module.__name__] = module
    root.utils.save_image = lambda *args, **kwargs: None  # type: ignore[attr-defined]
    sys.modules["torchvision"] = root


def reference_scripts(checkout: Path) -> dict[str, types.ModuleType]:
    if not (checkout / "main_DM.py").is_file() or not (checkout / "utils.py").is_file():
        raise SystemExit(f"--reference {checkout}: not a DatasetCondensation checkout (main_DM.py, utils.py)")
    _stand_in_torchvision()
    sys.path.insert(0, str(checkout))
    warnings.filterwarnings("ignore")  # scipy's deprecated namespace, the mean of zero evaluations
    scripts = {name: importlib.import_module(name) for name in ("main", "main_DM")}
    utils = importlib.import_module("utils")
    augment = _contiguous(utils.DiffAugment)
    for module in (utils, *scripts.values()):  # the scripts' matching and utils.epoch's inner loop
        module.DiffAugment = augment
    return scripts


def _contiguous(augment: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """The reference's crop returns a one-channel batch with channels-last strides (still "contiguous" at one
    channel, so ``.contiguous()`` keeps them); torch 2.x then runs the ConvNet channels-last and its ``view``
    refuses the features ("view size is not compatible"). One copy in the default layout restores what it ran on."""

    def wrapped(*args, **kwargs) -> torch.Tensor:
        return augment(*args, **kwargs).clone(memory_format=torch.contiguous_format)

    return wrapped


def reference_run(script: types.ModuleType, flags: list[str], features, iterations: int, scratch: Path) -> float:
    """Seconds of one run of the unmodified script on our features (its prints swallowed)."""
    train, test = features.train, features.test
    channel, height, width = features.shape

    def get_dataset(dataset: str, data_path: str):
        dst_test = ClipDataset(test.x, test.y)
        loader = torch.utils.data.DataLoader(dst_test, batch_size=256, shuffle=False)
        classes = [str(c) for c in range(features.num_classes)]
        mean, std = [0.0] * channel, [1.0] * channel
        dst_train = ClipDataset(train.x, train.y)
        return channel, (height, width), features.num_classes, classes, mean, std, dst_train, dst_test, loader

    script.get_dataset = get_dataset
    argv = ["reference", "--dataset", "FSDD", "--model", "ConvNetW64", "--ipc", str(IPC), "--num_exp", "1"]
    argv += ["--num_eval", "0", "--Iteration", str(iterations), "--batch_real", "256", *flags]
    argv += ["--data_path", str(scratch / "data"), "--save_path", str(scratch / "result")]
    saved = sys.argv
    sys.argv = argv
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return timed(script.main)
    finally:
        sys.argv = saved


def ours_run(session, name: str, params: dict, features, iterations: int) -> float:
    cls = get_technique(name)
    technique = cls(cls.configure("anchor", params), DistillContext(model=session.profile.model))
    return timed(lambda: technique.run(features, IPC, 0, Budget(iterations), session.device))


def reference_seconds(script: types.ModuleType, flags: list[str], features, n: int, scratch: Path) -> float:
    """Seconds per iteration: ``--Iteration n`` trains n + 1 iterations, ``--Iteration 0`` one."""
    one = reference_run(script, flags, features, 0, scratch)
    return (reference_run(script, flags, features, n, scratch) - one) / n


def ours_seconds(session, name: str, params: dict, features, n: int) -> float:
    one = ours_run(session, name, params, features, 1)
    return (ours_run(session, name, params, features, n + 1) - one) / n


def reference_epoch_seconds(utils: types.ModuleType, networks: types.ModuleType, subset, epochs: int) -> float:
    """Seconds per epoch of the reference's ``utils.epoch`` training its width-64 ConvNet on ``subset``, the way
    its ``evaluate_synset`` sets it up (DataLoader, batch 256, shuffled; SGD lr 0.01, momentum 0.9, wd 5e-4)."""
    torch.manual_seed(0)
    channel, height, width = subset.x.shape[1:]
    classes = int(subset.y.max()) + 1
    net = networks.ConvNet(channel, classes, 64, 3, "relu", "instancenorm", "avgpooling", (height, width))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=0.0005)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(subset.x, subset.y), batch_size=256, shuffle=True, num_workers=0
    )
    args = types.SimpleNamespace(device="cpu", dsa=False, dc_aug_param=None)
    criterion = torch.nn.CrossEntropyLoss()
    run = functools.partial(utils.epoch, "train", loader, net, optimizer, criterion, args, False)
    run()  # warm-up
    return timed(lambda: [run() for _ in range(epochs)]) / epochs


def _unit(work: str) -> str:
    return "epoch" if work in EVAL_WORKS else "iteration"


def _measures(
    work: str, scripts: dict[str, types.ModuleType], session, features, scratch: Path, acceleration: Acceleration
):
    """(reference, ours): each a call that returns seconds per iteration (or per epoch) of ``work``."""
    if work in EVAL_WORKS:
        ipc, epochs = EVAL_WORKS[work]
        subset = random_real_subset(features, ipc, 0)
        utils, networks = sys.modules["utils"], importlib.import_module("networks")
        reference = functools.partial(reference_epoch_seconds, utils, networks, subset, epochs)
        # compare.evaluation_epoch draws the same subset (random_real_subset(features, ipc, 0)) and times our loop
        return reference, lambda: evaluation_epoch(session, features, ipc, epochs, acceleration)[0]
    script, flags, params = WORKS[work]
    n = DEFAULT_ITERATIONS[work]
    reference = functools.partial(reference_seconds, scripts[script], flags, features, n, scratch)
    return reference, functools.partial(ours_seconds, session, work, params, features, n)


def _in_child(args: argparse.Namespace, work: str, side: str) -> float:
    """Seconds of one measurement, taken in a fresh interpreter that starts with glibc's default allocator."""
    env = {name: value for name, value in os.environ.items() if name not in CHILD_ENV}
    command = [sys.executable, "-m", "benchmarks.against_reference", "--reference", str(args.reference)]
    command += ["--params", str(args.params), "--cache-dir", str(args.cache_dir), "--accelerate", args.accelerate]
    command += ["--reference-malloc", args.reference_malloc, "--child", f"{work}:{side}"]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return float(json.loads(out.splitlines()[-1]))


def _child(args: argparse.Namespace, acceleration: Acceleration) -> None:
    work, side = args.child.split(":")
    if side == "ours" or args.reference_malloc == "reuse":
        reuse_freed_memory()
    scripts = reference_scripts(args.reference.resolve())
    session = anchor_session(args.params, args.cache_dir, "cpu")
    features = session.features("fsdd")
    with tempfile.TemporaryDirectory(prefix="dc-reference-") as folder:
        reference, ours = _measures(work, scripts, session, features, Path(folder), acceleration)
        print(json.dumps((reference if side == "reference" else ours)()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, required=True, help="A DatasetCondensation checkout.")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--cache-dir", type=Path, default=Path("cache"))
    parser.add_argument(
        "--works", default="dm,dc,dsa,eval10,eval50", help="Comma-separated: dm, dc, dsa, eval10, eval50."
    )
    parser.add_argument("--rounds", type=int, default=2, help="Interleaved rounds (reference first, then ours first).")
    parser.add_argument(
        "--accelerate",
        default="none",
        help="Our evaluation's path for eval10/eval50 (as distrack run --accelerate), e.g. chunked. [default: none]",
    )
    parser.add_argument(
        "--reference-malloc",
        choices=("system", "reuse"),
        default="system",
        help="The reference's C allocator: glibc's defaults, or ours too (bench/allocator.py). [default: system]",
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)  # WORK:SIDE, one measurement
    args = parser.parse_args()
    acceleration = Acceleration.parse(args.accelerate)
    if args.child:
        _child(args, acceleration)
        return
    works = [w.strip() for w in args.works.split(",") if w.strip()]
    unknown = sorted(set(works) - set(WORKS) - set(EVAL_WORKS))
    if unknown:
        raise SystemExit(f"--works: unknown {', '.join(unknown)} (known: {', '.join([*WORKS, *EVAL_WORKS])})")
    figures: dict[str, dict[str, list[float]]] = {w: {"reference": [], "ours": []} for w in works}
    for round_index in range(args.rounds):
        for work in works:
            order = ["reference", "ours"]
            for who in order if round_index % 2 == 0 else order[::-1]:
                seconds = _in_child(args, work, who)
                figures[work][who].append(seconds)
                print(f"round {round_index + 1} {work} {who}: {seconds:.3f} s/{_unit(work)}", flush=True)
    print(
        f"\nthreads {torch.get_num_threads()}; best of {args.rounds} interleaved rounds; ours: {args.accelerate}, "
        f"allocator {choice()}; reference allocator: {args.reference_malloc}\n"
    )
    print("| work (FSDD, width-64 ConvNet, 32x32, batch 256) | reference s | ours s | reference / ours |")
    print("|---|---|---|---|")
    rows = []
    for work in works:
        reference, ours = min(figures[work]["reference"]), min(figures[work]["ours"])
        label = f"evaluation, IPC {EVAL_WORKS[work][0]}, per epoch" if work in EVAL_WORKS else f"{work} outer iteration"
        print(f"| {label} | {reference:.3f} | {ours:.3f} | {reference / ours:.2f}x |")
        rows.append({"work": work, "reference_s": figures[work]["reference"], "ours_s": figures[work]["ours"]})
    if args.json:
        payload = {"threads": torch.get_num_threads(), "reference_malloc": args.reference_malloc, "rows": rows}
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
