"""Accuracy-vs-IPC plots (matplotlib PNG), one per (profile, dataset), byte-identical for the same cells."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.atomic import atomic_path
from bench.leaderboard.collect import Cell


def accuracy_vs_ipc(cells: Sequence[Cell], dataset: str, target: Path, title: str) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine = [c for c in cells if c.dataset == dataset and c.ipc is not None]
    if not mine:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for technique in sorted({c.technique for c in mine}):
        points = sorted((c.ipc, c.test) for c in mine if c.technique == technique)
        xs = [p[0] for p in points]
        means = [p[1].mean for p in points]
        stds = [p[1].std for p in points]
        style = "--" if technique == "random" else "-"
        (line,) = ax.plot(xs, means, style, marker="o", label=technique)
        ax.fill_between(
            xs,
            [m - s for m, s in zip(means, stds, strict=True)],
            [m + s for m, s in zip(means, stds, strict=True)],
            color=line.get_color(),
            alpha=0.15,
        )
    full = [c for c in cells if c.dataset == dataset and c.ipc is None]
    if full:
        ax.axhline(full[0].test.mean, color="black", linewidth=0.8, linestyle=":", label="full training set")
    ax.set_xscale("log")
    ax.set_xticks(sorted({c.ipc for c in mine}))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("items per class (IPC)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=90, metadata={"Software": "distrackted"})
    plt.close(fig)
    return target
