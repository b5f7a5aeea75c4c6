"""Markdown tables of the leaderboard, generic over tracks. Pure functions of the cells: the same records
give the same text."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from tabulate import tabulate

from bench.leaderboard.collect import BoardCell, Summary
from bench.sets.decoders import Decoder
from bench.sets.references import BASELINE


def ipc_label(ipc: int | None) -> str:
    return "all" if ipc is None else str(ipc)


def accuracy_text(summary: Summary | None, bold: bool = False) -> str:
    if summary is None:
        return "—"
    mean = f"**{summary.mean:.3f}**" if bold else f"{summary.mean:.3f}"
    return f"{mean} ± {summary.std:.3f} ({summary.sets}×{summary.n // max(summary.sets, 1)})"


def is_bold(summary: Summary, best: Summary) -> bool:
    """Best in its column, or tied with the best: within one standard deviation of either."""
    return best.mean - summary.mean <= max(best.std, summary.std)


def technique_order(cells: Sequence[BoardCell]) -> list[str]:
    """Reference rows first (those without IPC, then per-IPC ones), then techniques, alphabetically."""
    references = {c.technique: c.ipc is None for c in cells if c.is_reference}
    first = sorted(references, key=lambda name: (not references[name], name))
    return first + sorted({c.technique for c in cells if not c.is_reference})


def columns(cells: Sequence[BoardCell]) -> list[tuple[str, int]]:
    return sorted({(c.dataset, c.ipc) for c in cells if c.ipc is not None})  # type: ignore[misc]


def _lookup(cells: Sequence[BoardCell]) -> dict[tuple[str, str, int | None], BoardCell]:
    return {(c.technique, c.dataset, c.ipc): c for c in cells}


def _status_mark(cell: BoardCell) -> str:
    return {"self-reported": " †", "verified": " ✓"}.get(cell.status, "")


def _row_label(cells: Sequence[BoardCell], technique: str) -> str:
    reference = any(c.is_reference for c in cells if c.technique == technique)
    return technique + (" (reference)" if reference else "")


def overall(cells: Sequence[BoardCell], track: str, metric: str | None = None) -> str:
    """Technique x (dataset, IPC) of one track's main score (or ``metric``); the best cell per column in bold
    (rows without IPC excluded), "—" if missing. A reference row without IPC repeats its value per column."""
    table = _lookup(cells)
    cols = columns(cells)
    best: dict[tuple[str, int], Summary] = {}
    for dataset, ipc in cols:
        scored = [c.score(track, metric) for c in cells if (c.dataset, c.ipc) == (dataset, ipc)]
        present = [s for s in scored if s is not None]
        if present:
            best[dataset, ipc] = max(present, key=lambda s: s.mean)
    rows = []
    for technique in technique_order(cells):
        row = [_row_label(cells, technique)]
        for dataset, ipc in cols:
            cell = table.get((technique, dataset, ipc)) or table.get((technique, dataset, None))
            summary = cell.score(track, metric) if cell else None
            if cell is None or summary is None:
                row.append("—")
            elif cell.ipc is None:
                row.append(accuracy_text(summary))
            else:
                row.append(accuracy_text(summary, is_bold(summary, best[dataset, ipc])) + _status_mark(cell))
        if any(value != "—" for value in row[1:]):
            rows.append(row)
    headers = ["technique", *[f"{d} IPC {i}" for d, i in cols]]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def gain_over_baseline(cells: Sequence[BoardCell], track: str) -> str:
    table = _lookup(cells)
    cols = columns(cells)
    rows = []
    for technique in technique_order(cells):
        if any(c.is_reference for c in cells if c.technique == technique):
            continue
        row = [technique]
        for dataset, ipc in cols:
            cell, base = table.get((technique, dataset, ipc)), table.get((BASELINE, dataset, ipc))
            mine = cell.score(track) if cell else None
            theirs = base.score(track) if base else None
            if mine is None or theirs is None:
                row.append("—")
            else:
                gain = mine.mean - theirs.mean
                within = abs(gain) <= max(mine.std, theirs.std)
                row.append(f"{gain:+.3f}" + (" ≈" if within else ""))
        rows.append(row)
    return tabulate(
        rows, headers=["technique", *[f"{d} IPC {i}" for d, i in cols]], tablefmt="github", disable_numparse=True
    )


def per_technique(cells: Sequence[BoardCell], technique: str, track: str) -> str:
    """The original README's layout: rows = IPC, columns = datasets."""
    table = _lookup(cells)
    datasets = sorted({c.dataset for c in cells})
    ipcs = sorted({c.ipc for c in cells if c.technique == technique and c.ipc is not None})  # type: ignore[type-var]
    rows = []
    for ipc in ipcs:
        row = [f"{ipc} sample{'s' if ipc > 1 else ''}/cls"]
        for dataset in datasets:
            cell = table.get((technique, dataset, ipc))
            row.append(accuracy_text(cell.score(track)) if cell else "—")
        rows.append(row)
    return tabulate(rows, headers=["", *datasets], tablefmt="github", disable_numparse=True)


def breakdown(cells: Sequence[BoardCell], track: str, dataset: str, ipc: int) -> str | None:
    """One row per technique, one column per sub-metric ``<main>/<part>`` (e.g. each architecture of the
    cross-architecture pool), then the main score."""
    mine = [c for c in cells if c.dataset == dataset and c.ipc in (ipc, None) and track in c.tracks()]
    if not mine:
        return None
    main = mine[0].entries(track)[0]["main_score"]
    parts = sorted({m for c in mine for m in c.metrics(track) if m.startswith(f"{main}/")})
    if not parts:
        return None
    rows = []
    for technique in technique_order(mine):
        cell = next(c for c in mine if c.technique == technique)
        rows.append(
            [_row_label(mine, technique)]
            + [accuracy_text(cell.score(track, part)) for part in parts]
            + [accuracy_text(cell.score(track))]
        )
    headers = ["technique", *[part.split("/", 1)[1] for part in parts], "mean"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def other_metrics(cells: Sequence[BoardCell], track: str, dataset: str, ipc: int) -> str | None:
    """One row per technique, one column per metric of the track that is neither its main score, a part of
    it, nor a validation score (e.g. the shift track's clean accuracy, drop and accuracy after each TTA loss)."""
    mine = [c for c in cells if c.dataset == dataset and c.ipc in (ipc, None) and track in c.tracks()]
    if not mine:
        return None
    main = mine[0].entries(track)[0]["main_score"]
    names = sorted(
        {
            m
            for c in mine
            for m in c.metrics(track)
            if m != main and not m.startswith(f"{main}/") and not m.startswith("validation_accuracy")
        }
    )
    if not names:
        return None
    rows = []
    for technique in technique_order(mine):
        cell = next(c for c in mine if c.technique == technique)
        rows.append(
            [_row_label(mine, technique), accuracy_text(cell.score(track))]
            + [accuracy_text(cell.score(track, name)) for name in names]
        )
    return tabulate(rows, headers=["technique", main, *names], tablefmt="github", disable_numparse=True)


def cost_table(cells: Sequence[BoardCell], tracks: Sequence[str]) -> str:
    rows = []
    for cell in sorted(cells, key=lambda c: (c.dataset, c.technique, c.ipc or 0)):
        cost = cell.distill_cost() or {}
        row = [
            cell.dataset,
            cell.technique,
            ipc_label(cell.ipc),
            f"{cost['wall_seconds']:.1f}" if cost else "—",
            str(cost.get("iterations", "—")) if cost else "—",
            f"{cost['peak_memory_mb']:.0f}" if cost else "—",
        ]
        for track in tracks:
            entries = cell.entries(track)
            per_seed = entries[0]["cost"].get("train_seconds_per_seed") if entries else None
            if per_seed:
                row.append(f"{sum(per_seed) / len(per_seed):.1f}")
            else:
                row.append(f"{entries[0]['cost']['wall_seconds']:.1f}" if entries else "—")
        main = cell.entries(tracks[0]) if tracks else []
        row.append(main[0]["cost"]["device"] if main else "—")
        rows.append(row)
    headers = ["dataset", "technique", "IPC", "distil s", "iterations", "distil peak MB"]
    headers += [f"{track} s/seed" for track in tracks] + ["device"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def set_forms(cells: Sequence[BoardCell]) -> str | None:
    """Sets that are not one plain log-mel item per stored item (a factorised decoder, waveforms): what they
    store, how many items they train on, and their bytes beside a plain log-mel set of the same IPC, so a
    budget in items per class is never mistaken for a budget in bytes (IDC's fair comparison)."""
    rows = []
    for cell in sorted(cells, key=lambda c: (c.technique, c.dataset, c.ipc or 0)):
        form = cell.records[0]["evaluated_set"]
        decoder, domain = form.get("decoder"), form.get("domain", "logmel")
        if cell.is_reference or (decoder is None and domain == "logmel") or "budget" not in form:
            continue
        per_stored = Decoder.from_spec(decoder, "record decoder").items_per_stored() if decoder else 1
        features = cell.records[0]["features"]
        plain = form["num_items"] * (features["n_mels"] * features["frames"] * 4 + 8)  # float32 items, int64 labels
        stored = form["budget"]["stored_bytes"]
        what = domain + ("" if decoder is None else f", {decoder['name']} x{per_stored}")
        rows.append(
            [
                cell.technique,
                cell.dataset,
                ipc_label(cell.ipc),
                what,
                str(per_stored * form["budget"]["items_per_class"]),
                f"{stored:,}",
                f"{stored / plain:.2f}x",
            ]
        )
    if not rows:
        return None
    headers = [
        "technique",
        "dataset",
        "IPC",
        "stored items are",
        "training items / class",
        "stored bytes",
        "bytes vs log-mel set",
    ]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def identical_sets(cells: Sequence[BoardCell]) -> list[str]:
    """Rows that are the very same set (equal stored tensors) under different names, so the board never
    presents two rows as two results when they are one."""
    by_digest: dict[tuple[str, int | None, str], list[str]] = defaultdict(list)
    for cell in cells:
        for digest in cell.tensor_digests():
            by_digest[cell.dataset, cell.ipc, digest].append(cell.technique)
    shared: dict[tuple[str, int | None, tuple[str, ...]], int] = defaultdict(int)  # -> how many sets (seeds)
    for (dataset, ipc, _), names in by_digest.items():
        if len(set(names)) > 1:
            shared[dataset, ipc, tuple(sorted(set(names)))] += 1
    notes = []
    for (dataset, ipc, names), count in sorted(shared.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, kv[0][2])):
        sets = "identical sets" if count == 1 else f"identical sets, {count} seeds"
        notes.append(f"{dataset} IPC {ipc_label(ipc)}: {' = '.join(names)} ({sets})")
    return notes


def provenance(cells: Sequence[BoardCell], track: str) -> str:
    entries = [e for c in cells for e in c.entries(track)]
    records = [r for c in cells for r in c.records]
    protocols = sorted({e["protocol_id"] for e in entries})
    first = entries[0]
    params, model = first["params"], first.get("model") or {}
    commits = sorted({(e.get("git_commit") or "unknown")[:12] for e in entries})
    versions = sorted({r["environment"]["suite_version"] for r in records})
    devices = sorted({e["cost"]["device"] for e in entries})
    recipe = f"{params['epochs']} epochs, " if "epochs" in params else ""
    network = ""
    if model.get("architecture") == "convnet":
        network = f"ConvNet depth {model['depth']} width {model['width']}, "
    return (
        f"Track `{track}`, protocol {', '.join(f'`{p}`' for p in protocols)}: {network}{recipe}"
        f"final-epoch scores, mean ± std (distillation seeds × evaluation seeds); "
        f"suite {', '.join(versions)} at {', '.join(commits)}; devices: {'; '.join(devices)}."
    )
