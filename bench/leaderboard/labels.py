"""Hard labels beside knowledge distillation, per dataset: the same sets scored by the main track (hard labels)
and by the ``kd`` track (a student taught by a full-data teacher), with the teacher as the upper bound.

DD-Ranking's point, made visible: soft labels lift every set, random real clips most, so a set's value is its
gain over random *under the same labels*. The gain columns compare each set with the random subset of its IPC
in the same column family; ≈ marks a gain within one standard deviation (not a difference)."""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from bench.leaderboard.collect import BoardCell, Summary
from bench.leaderboard.tables import accuracy_text, technique_order
from bench.sets.references import BASELINE

HARD, SOFT = "convnet", "kd"


def is_data_free(technique: str) -> bool:
    from bench.techniques.registry import TECHNIQUES

    return technique in TECHNIQUES.names() and bool(getattr(TECHNIQUES.get(technique), "data_free", False))


def teacher_accuracy(cells: Sequence[BoardCell]) -> float | None:
    accuracies = {e["teacher"]["test_accuracy"] for c in cells for e in c.entries(SOFT) if "teacher" in e}
    return next(iter(accuracies)) if len(accuracies) == 1 else None


def _gain(mine: Summary | None, base: Summary | None) -> str:
    if mine is None or base is None:
        return "—"
    gain = mine.mean - base.mean
    return f"{gain:+.3f}" + (" ≈" if abs(gain) <= max(mine.std, base.std) else "")


def _label(technique: str, reference: bool) -> str:
    return technique + (" (reference)" if reference else "") + (" (data-free)" if is_data_free(technique) else "")


def hard_vs_kd(cells: Sequence[BoardCell], dataset: str) -> str | None:
    """Rows: the teacher, then every set scored by ``kd``; per IPC: hard, KD and each one's gain over random."""
    mine = [c for c in cells if c.dataset == dataset and c.ipc is not None]
    ipcs = sorted({c.ipc for c in mine if SOFT in c.tracks()})  # type: ignore[type-var]
    if not ipcs:
        return None
    table = {(c.technique, c.ipc): c for c in mine}
    headers = ["technique"]
    for ipc in ipcs:
        headers += [f"hard IPC {ipc}", f"KD IPC {ipc}", f"hard − random IPC {ipc}", f"KD − random IPC {ipc}"]
    rows = []
    teacher = teacher_accuracy([c for c in mine if c.ipc in ipcs])
    if teacher is not None:
        per_ipc = ("—", f"{teacher:.3f}", "", "")
        rows.append(["teacher (full training split)", *[value for _ in ipcs for value in per_ipc]])
    for technique in technique_order(mine):
        if not any(SOFT in table[technique, ipc].tracks() for ipc in ipcs if (technique, ipc) in table):
            continue
        row = [_label(technique, any(c.is_reference for c in mine if c.technique == technique))]
        for ipc in ipcs:
            cell, base = table.get((technique, ipc)), table.get((BASELINE, ipc))
            scores = [cell.score(track) if cell else None for track in (HARD, SOFT)]
            bases = [base.score(track) if base else None for track in (HARD, SOFT)]
            row += [accuracy_text(s) for s in scores]
            row += ["" if technique == BASELINE else _gain(s, b) for s, b in zip(scores, bases, strict=True)]
        rows.append(row)
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _gain_value(cell: BoardCell | None, base: BoardCell | None, track: str) -> tuple[float, bool] | None:
    """(gain over random, whether it is beyond one standard deviation) under ``track``'s labels."""
    mine, theirs = (c.score(track) if c else None for c in (cell, base))
    if mine is None or theirs is None:
        return None
    gain = mine.mean - theirs.mean
    return gain, abs(gain) > max(mine.std, theirs.std)


def label_robust(cells: Sequence[BoardCell]) -> str | None:
    """What share of a set's hard-label gain over random survives when every student gets the same teacher:
    KD gain / hard gain, for sets whose hard-label gain is beyond noise (else "—")."""
    scored = [c for c in cells if c.ipc is not None and SOFT in c.tracks() and not c.is_reference]
    cols = sorted({(c.dataset, c.ipc) for c in scored})  # type: ignore[type-var]
    if not cols:
        return None
    table = {(c.technique, c.dataset, c.ipc): c for c in cells}
    rows = []
    for technique in sorted({c.technique for c in scored}):
        row = [_label(technique, False)]
        for dataset, ipc in cols:
            cell, base = table.get((technique, dataset, ipc)), table.get((BASELINE, dataset, ipc))
            hard, soft = _gain_value(cell, base, HARD), _gain_value(cell, base, SOFT)
            if hard is None or soft is None or not hard[1] or hard[0] <= 0:
                row.append("—")
            else:
                row.append(f"{soft[0] / hard[0]:+.0%}")
        rows.append(row)
    headers = ["technique", *[f"{d} IPC {i}" for d, i in cols]]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def section(cells: Sequence[BoardCell]) -> list[str]:
    datasets = sorted({c.dataset for c in cells if SOFT in c.tracks()})
    if not datasets:
        return []
    lines = ["### Hard labels beside knowledge distillation", "", (__doc__ or "").split("\n\n")[1].replace("\n", " ")]
    lines += ["Data-free rows never read the real training clips; only their teacher did.", ""]
    for dataset in datasets:
        table = hard_vs_kd(cells, dataset)
        if table is not None:
            lines += [f"#### {dataset}", "", table, ""]
    robust = label_robust(cells)
    if robust is not None:
        lines += ["#### Label-robust summary", "", (label_robust.__doc__ or "").replace("\n   ", ""), "", robust, ""]
    return lines
