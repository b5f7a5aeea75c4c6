"""Leaderboard pictures (matplotlib PNG, byte-identical for the same cells): accuracy vs IPC per dataset, and
the test confusion matrix of a cell.

Each picture carries a fingerprint of what it draws (its data, title, this module's drawing version and
matplotlib's) in a PNG text chunk, and is redrawn only when that changes: a board of hundreds of cells spent
most of its build redrawing confusion matrices nobody had changed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.atomic import atomic_path
from bench.leaderboard.collect import BoardCell

DRAWING_VERSION = 1  # bump when the drawing code changes, so that every fingerprinted picture is redrawn
FINGERPRINT_KEY = "distrack-inputs"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return matplotlib, plt


def fingerprint(kind: str, *inputs: Any) -> str:
    """sha256 of everything a picture's pixels depend on (JSON of plain data). Imports matplotlib but not
    pyplot: a rebuild that finds every picture drawn never needs it."""
    import matplotlib

    payload = json.dumps([kind, DRAWING_VERSION, matplotlib.__version__, inputs], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def already_drawn(target: Path, inputs: str) -> bool:
    """Whether ``target`` is the picture of ``inputs`` already (its PNG text chunk names them)."""
    if not target.is_file():
        return False
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(target) as image:
            return image.info.get(FINGERPRINT_KEY) == inputs
    except (OSError, UnidentifiedImageError):
        return False  # unreadable: draw it again


def _save(fig, target: Path, dpi: int, inputs: str | None = None) -> Path:
    _, plt = _pyplot()
    fig.tight_layout()
    metadata = {"Software": "distrackted"} | ({FINGERPRINT_KEY: inputs} if inputs else {})
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata=metadata)
    plt.close(fig)
    return target


def accuracy_vs_ipc(cells: Sequence[BoardCell], dataset: str, track: str, target: Path, title: str) -> Path | None:
    mine = [c for c in cells if c.dataset == dataset and c.ipc is not None and c.score(track) is not None]
    if not mine:
        return None
    lines = []  # (technique, dashed, [(ipc, mean, std)]) per technique
    for technique in sorted({c.technique for c in mine}):
        points = sorted((c.ipc, c.score(track)) for c in mine if c.technique == technique)  # type: ignore[type-var]
        reference = any(c.is_reference for c in mine if c.technique == technique)
        lines.append((technique, reference, [(ipc, s.mean, s.std) for ipc, s in points]))  # type: ignore[union-attr]
    levels = [
        (cell.technique, cell.score(track).mean)  # type: ignore[union-attr]
        for cell in cells
        if cell.dataset == dataset and cell.ipc is None and cell.score(track) is not None
    ]
    ticks = sorted({c.ipc for c in mine})  # type: ignore[type-var]
    inputs = fingerprint("accuracy_vs_ipc", lines, levels, ticks, track, title)
    if already_drawn(target, inputs):
        return target
    matplotlib, plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for technique, reference, points in lines:
        xs = [p[0] for p in points]
        means = [p[1] for p in points]
        stds = [p[2] for p in points]
        (line,) = ax.plot(xs, means, "--" if reference else "-", marker="o", label=technique)
        ax.fill_between(
            xs,
            [m - s for m, s in zip(means, stds, strict=True)],
            [m + s for m, s in zip(means, stds, strict=True)],
            color=line.get_color(),
            alpha=0.15,
        )
    for technique, mean in levels:
        ax.axhline(mean, color="black", linewidth=0.8, linestyle=":", label=f"{technique} (reference)")
    ax.set_xscale("log")
    ax.set_xticks(ticks)
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("items per class (IPC)")
    ax.set_ylabel(f"{track}: test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, target, 90, inputs)


def confusion_png(matrix: list[list[int]], classes: list[str], target: Path, title: str) -> Path:
    """Row-normalised confusion matrix (true class in rows), counts summed over evaluation seeds."""
    inputs = fingerprint("confusion", matrix, classes, title)
    if already_drawn(target, inputs):
        return target
    _, plt = _pyplot()
    totals = [max(sum(row), 1) for row in matrix]
    shares = [[value / total for value in row] for row, total in zip(matrix, totals, strict=True)]
    size = 1.2 + 0.42 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 0.8, size))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(classes))
    ax.set_xticks(ticks, [name[:12] for name in classes], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(ticks, [name[:12] for name in classes], fontsize=7)
    for i, row in enumerate(shares):
        for j, share in enumerate(row):
            if share >= 0.05:
                ax.text(
                    j,
                    i,
                    f"{share:.2f}",
                    ha="center",
                    va="center",
                    fontsize=5.5,
                    color="white" if share > 0.6 else "black",
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return _save(fig, target, 80, inputs)


def severity_curves(cells: Sequence[BoardCell], dataset: str, track: str, ipc: int, target: Path) -> Path | None:
    """Accuracy against severity for every corruption measured at several severities (parts named
    ``<main>/<corruption>@<severity>``), one line per technique, the clean accuracy at the left."""
    mine = sorted(
        (c for c in cells if c.dataset == dataset and c.ipc == ipc and track in c.tracks()), key=lambda c: c.technique
    )
    if not mine:
        return None
    main = mine[0].entries(track)[0]["main_score"]
    parts = [m.split("/", 1)[1] for m in mine[0].metrics(track) if m.startswith(f"{main}/") and "@" in m]
    severities: dict[str, list[str]] = {}
    for part in parts:
        name, _, severity = part.partition("@")
        severities.setdefault(name, []).append(severity)
    curves = []  # (corruption, x labels, [(technique, dashed, accuracy per label)])
    for name, values in sorted(severities.items()):
        if len(values) < 2:
            continue
        order = sorted(values, key=float, reverse=True)
        lines = []
        for cell in mine:
            clean = cell.score(track, "clean_accuracy")
            points = [clean.mean if clean else float("nan")]
            points += [cell.score(track, f"{main}/{name}@{value}").mean for value in order]  # type: ignore[union-attr]
            lines.append((cell.technique, cell.is_reference, points))
        curves.append((name, ["clean", *order], lines))
    if not curves:
        return None
    title = f"{dataset}, IPC {ipc}: accuracy as the corruption grows ({track})"
    inputs = fingerprint("severity_curves", curves, title)
    if already_drawn(target, inputs):
        return target
    _, plt = _pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(3.6 * len(curves), 3.2), squeeze=False)
    for ax, (name, labels, lines) in zip(axes[0], curves, strict=True):
        for technique, dashed, points in lines:
            ax.plot(range(len(labels)), points, "--" if dashed else "-", marker="o", label=technique)
        ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.set_title(f"{name}", fontsize=9)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy")
    axes[0][-1].legend(fontsize=6, ncol=2, loc="lower left")
    fig.suptitle(title, fontsize=9)
    return _save(fig, target, 80, inputs)
