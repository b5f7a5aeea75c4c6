"""Markdown tables of the leaderboard. Pure functions of the cells: the same records give the same text."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tabulate import tabulate

from bench.leaderboard.collect import Cell, Summary

REFERENCES = ("full", "random")  # reference rows: the upper bound and the baseline


def ipc_label(ipc: int | None) -> str:
    return "all" if ipc is None else str(ipc)


def accuracy_text(summary: Summary | None, bold: bool = False) -> str:
    if summary is None:
        return "—"
    mean = f"**{summary.mean:.3f}**" if bold else f"{summary.mean:.3f}"
    return f"{mean} ± {summary.std:.3f} ({summary.n})"


def is_bold(summary: Summary, best: Summary) -> bool:
    """Best in its column, or tied with the best: within one standard deviation of either."""
    return best.mean - summary.mean <= max(best.std, summary.std)


def technique_order(cells: Sequence[Cell]) -> list[str]:
    names = sorted({c.technique for c in cells})
    return [r for r in REFERENCES if r in names] + [n for n in names if n not in REFERENCES]


def columns(cells: Sequence[Cell]) -> list[tuple[str, int]]:
    return sorted({(c.dataset, c.ipc) for c in cells if c.ipc is not None})


def _lookup(cells: Sequence[Cell]) -> dict[tuple[str, str, int | None], Cell]:
    return {(c.technique, c.dataset, c.ipc): c for c in cells}


def _status_mark(cell: Cell) -> str:
    return {"self-reported": " †", "verified": " ✓"}.get(cell.status, "")


def overall(cells: Sequence[Cell]) -> str:
    """Technique x (dataset, IPC); the best cell per column in bold (full-data row excluded), "—" if missing."""
    table = _lookup(cells)
    cols = columns(cells)
    best: dict[tuple[str, int], Summary] = {}
    for dataset, ipc in cols:
        candidates = [c.test for c in cells if (c.dataset, c.ipc) == (dataset, ipc)]
        if candidates:
            best[dataset, ipc] = max(candidates, key=lambda s: s.mean)
    rows = []
    for technique in technique_order(cells):
        row = [technique + (" (reference)" if technique in REFERENCES else "")]
        for dataset, ipc in cols:
            cell = table.get((technique, dataset, ipc))
            if cell is None:
                row.append("—")
            else:
                row.append(accuracy_text(cell.test, is_bold(cell.test, best[dataset, ipc])) + _status_mark(cell))
        if technique == "full":  # one value per dataset, repeated under each of its IPC columns
            row = ["full training set (reference)"] + [
                accuracy_text(table[("full", d, None)].test) if ("full", d, None) in table else "—" for d, _ in cols
            ]
        rows.append(row)
    headers = ["technique", *[f"{d} IPC {i}" for d, i in cols]]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def gain_over_random(cells: Sequence[Cell]) -> str:
    table = _lookup(cells)
    cols = columns(cells)
    rows = []
    for technique in technique_order(cells):
        if technique in REFERENCES:
            continue
        row = [technique]
        for dataset, ipc in cols:
            cell, base = table.get((technique, dataset, ipc)), table.get(("random", dataset, ipc))
            row.append("—" if cell is None or base is None else f"{cell.test.mean - base.test.mean:+.3f}")
        rows.append(row)
    return tabulate(
        rows, headers=["technique", *[f"{d} IPC {i}" for d, i in cols]], tablefmt="github", disable_numparse=True
    )


def per_technique(cells: Sequence[Cell], technique: str, value: Callable[[Cell], Summary | None]) -> str:
    """The original README's layout: rows = IPC, columns = datasets."""
    table = _lookup(cells)
    datasets = sorted({c.dataset for c in cells})
    ipcs = sorted({c.ipc for c in cells if c.technique == technique and c.ipc is not None})
    rows = []
    for ipc in ipcs:
        row = [f"{ipc} sample{'s' if ipc > 1 else ''}/cls"]
        for dataset in datasets:
            cell = table.get((technique, dataset, ipc))
            row.append(accuracy_text(value(cell)) if cell else "—")
        rows.append(row)
    return tabulate(rows, headers=["", *datasets], tablefmt="github", disable_numparse=True)


def prototype_table(cells: Sequence[Cell]) -> str:
    """Nearest-class-mean accuracy in a random ConvNet's embedding. "Mean of Clusters" is the class means
    of the whole training set (the full-data reference)."""
    table = _lookup(cells)
    cols = columns(cells)
    rows = [
        ["Mean of Clusters (full training set)"]
        + [accuracy_text(table[("full", d, None)].prototype) if ("full", d, None) in table else "—" for d, _ in cols]
    ]
    for technique in technique_order(cells):
        if technique == "full":
            continue
        row = [technique]
        for dataset, ipc in cols:
            cell = table.get((technique, dataset, ipc))
            row.append(accuracy_text(cell.prototype) if cell else "—")
        rows.append(row)
    return tabulate(rows, headers=["set", *[f"{d} IPC {i}" for d, i in cols]], tablefmt="github", disable_numparse=True)


def cost_table(cells: Sequence[Cell]) -> str:
    rows = []
    for cell in sorted(cells, key=lambda c: (c.dataset, c.technique, c.ipc or 0)):
        cost = cell.distill_cost() or {}
        evaluation = cell.records[0]["cost"]
        seeds = evaluation["train_seconds_per_seed"]
        rows.append(
            [
                cell.dataset,
                cell.technique,
                ipc_label(cell.ipc),
                f"{cost['wall_seconds']:.1f}" if cost else "—",
                str(cost.get("iterations", "—")) if cost else "—",
                f"{cost['peak_memory_mb']:.0f}" if cost else "—",
                f"{sum(seeds) / len(seeds):.1f}",
                evaluation["device"],
            ]
        )
    headers = [
        "dataset",
        "technique",
        "IPC",
        "distil s",
        "iterations",
        "distil peak MB",
        "eval s/seed",
        "device",
    ]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def provenance(cells: Sequence[Cell]) -> str:
    records = [r for c in cells for r in c.records]
    protocol = records[0]["protocol"]
    params, model = protocol["params"], protocol["model"]
    commits = sorted({(r["environment"].get("git_commit") or "unknown")[:12] for r in records})
    versions = sorted({r["environment"]["suite_version"] for r in records})
    devices = sorted({r["cost"]["device"] for r in records})
    return (
        f"Profile `{records[0]['profile']}`; protocol `{protocol['id']}`: ConvNet depth {model['depth']} width "
        f"{model['width']}, {params['epochs']} epochs, final-epoch test accuracy, mean ± std (n = evaluation runs); "
        f"suite {', '.join(versions)} at {', '.join(commits)}; devices: {'; '.join(devices)}."
    )
