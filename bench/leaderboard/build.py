"""`distrack leaderboard build`: records -> leaderboard/README.md with plots, confusion matrices and sample
sounds, one table family per evaluation track.

Deterministic: the text depends only on the records (sorted, no clock), PNGs are written without
timestamps, and Griffin-Lim is seeded, so the same inputs give byte-identical outputs."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from bench.atomic import write_text_atomic
from bench.features.store import find_cached_features
from bench.hashing import sha256_file
from bench.leaderboard import labels, tables
from bench.leaderboard.collect import BoardCell, group, read_records
from bench.leaderboard.plots import (
    FINGERPRINT_KEY,
    accuracy_vs_ipc,
    already_drawn,
    confusion_png,
    fingerprint,
    severity_curves,
)
from bench.leaderboard.seed import seed_section
from bench.sets.files import load_set
from bench.sets.references import BASELINE

PROFILE_ORDER = ("quick", "standard", "anchor")
MAIN_TRACK = "convnet"  # the protocol every other track is read beside
SEED_PROFILE = "quick"  # the profile whose cells stand beside the seed README's tables
SAMPLE_PREFERENCE = ("dm", "mtt", "dsa", "dc")  # which distilled set speaks for a dataset


def _profile_key(profile: str) -> tuple[int, str]:
    return (PROFILE_ORDER.index(profile) if profile in PROFILE_ORDER else len(PROFILE_ORDER), profile)


def track_order(cells: Sequence[BoardCell]) -> list[str]:
    present = {t for c in cells for t in c.tracks()}
    return ([MAIN_TRACK] if MAIN_TRACK in present else []) + sorted(present - {MAIN_TRACK})


SAMPLES_NOTE = (
    "Griffin-Lim inversions of the synthetic log-mels (phase is estimated); waveform sets (`dm-waveform`) are heard "
    "as stored."
)


def sample_cell(cells: Sequence[BoardCell], dataset: str) -> BoardCell | None:
    """The largest-IPC set of the first preferred technique present for ``dataset``."""
    for technique in SAMPLE_PREFERENCE:
        mine = _largest_ipc(cells, dataset, technique)
        if mine is not None:
            return mine
    return None


def _largest_ipc(cells: Sequence[BoardCell], dataset: str, technique: str) -> BoardCell | None:
    mine = sorted((c for c in cells if (c.dataset, c.technique) == (dataset, technique) and c.ipc), key=lambda c: c.ipc)
    return mine[-1] if mine else None


def sample_cells(cells: Sequence[BoardCell], dataset: str) -> dict[str, BoardCell]:
    """Folder name -> cell: ``dataset`` for the preferred technique's set, ``dataset-technique`` for each
    data-free technique's (items made from a teacher alone are worth hearing beside the others) and each
    waveform set's (heard as stored, no Griffin-Lim)."""
    chosen = {}
    preferred = sample_cell(cells, dataset)
    if preferred is not None:
        chosen[dataset] = preferred
    for technique in sorted({c.technique for c in cells if c.dataset == dataset and _worth_hearing(c)}):
        cell = _largest_ipc(cells, dataset, technique)
        if cell is not None:
            chosen[f"{dataset}-{technique}"] = cell
    return chosen


def _worth_hearing(cell: BoardCell) -> bool:
    return labels.is_data_free(cell.technique) or cell.records[0]["evaluated_set"].get("domain") == "waveform"


SAMPLE_ITERATIONS = 64  # Griffin-Lim iterations per sample WAV


def render_samples(cell: BoardCell, folder: Path, repo_root: Path, cache_roots: list[Path]) -> bool:
    """Spectrogram grid + one WAV per class for ``cell``'s set; False when its set or features are absent.
    Skipped when the folder already holds the samples of this very set (the grid's fingerprint says so):
    Griffin-Lim over every board set was most of a rebuild's time."""
    from bench.samples import write_spectrogram_grid, write_wavs

    source = cell.records[0]["evaluated_set"].get("source") or ""
    set_path = repo_root / source
    if not source or not set_path.is_file():
        return False
    title = f"{cell.dataset}: {cell.technique}, IPC {cell.ipc} ({cell.profile})"
    inputs = fingerprint("samples", sha256_file(set_path), title, SAMPLE_ITERATIONS, torch.__version__)
    grid = folder / "spectrograms.png"
    if already_drawn(grid, inputs) and any(folder.glob("*.wav")):
        return True
    labelled = load_set(set_path)
    feature_key = labelled.metadata.get("feature_key")
    feats = find_cached_features(cache_roots, feature_key) if feature_key else None
    if feats is None:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*"):
        stale.unlink()
    write_wavs(feats, labelled, folder, per_class=1, iterations=SAMPLE_ITERATIONS)
    # the grid last: its fingerprint vouches for the WAVs written before it
    write_spectrogram_grid(feats, labelled, grid, title, {FINGERPRINT_KEY: inputs})
    return True


def _samples_section(out_dir: Path, profile: str, folders: Sequence[str]) -> list[str]:
    lines = []
    for dataset in folders:
        folder = out_dir / "samples" / profile / dataset
        wavs = sorted(folder.glob("*.wav"))
        if not wavs:
            continue
        lines += [f"#### {dataset}", ""]
        if (folder / "spectrograms.png").is_file():
            lines += [f"![{dataset} distilled spectrograms](samples/{profile}/{dataset}/spectrograms.png)", ""]
        lines += ["| class | listen |", "|---|---|"]
        for wav in wavs:
            label = wav.stem.split("_", 2)[2].rsplit("_", 1)[0]
            rel = f"samples/{profile}/{dataset}/{wav.name}"
            player = f'<audio controls src="{rel}"></audio>'
            lines.append(f"| {label} | {player} [{wav.name}]({rel}) |")
        lines.append("")
    return lines


def _confusion_section(cells: Sequence[BoardCell], out_dir: Path, profile: str, track: str) -> list[str]:
    """One PNG per cell whose records carry the track's test confusion matrix, linked from a small table."""
    links: dict[tuple[str, str], dict[int, str]] = {}
    for cell in cells:
        entries = [e for e in cell.entries(track) if "confusion" in e]
        if cell.ipc is None or not entries:
            continue
        matrix = [
            [sum(e["confusion"][i][j] for e in entries) for j in range(len(entries[0]["confusion"]))]
            for i in range(len(entries[0]["confusion"]))
        ]
        rel = f"confusion/{profile}/{cell.dataset}/{track}/{cell.technique}-ipc{cell.ipc}.png"
        title = f"{cell.dataset}: {cell.technique}, IPC {cell.ipc} ({track}, {profile})"
        confusion_png(matrix, cell.records[0]["dataset"]["classes"], out_dir / rel, title)
        links.setdefault((cell.dataset, cell.technique), {})[cell.ipc] = rel
    if not links:
        return []
    ipcs = sorted({ipc for row in links.values() for ipc in row})
    rows = [
        [dataset, technique, *[f"[IPC {ipc}]({row[ipc]})" if ipc in row else "—" for ipc in ipcs]]
        for (dataset, technique), row in sorted(links.items())
    ]
    from tabulate import tabulate

    table = tabulate(rows, headers=["dataset", "technique", *[f"IPC {i}" for i in ipcs]], tablefmt="github")
    return ["Row-normalised test confusion matrices, summed over evaluation seeds (true class in rows).", "", table, ""]


def _track_section(cells: Sequence[BoardCell], out_dir: Path, profile: str, track: str, plots: bool) -> list[str]:
    mine = [c for c in cells if track in c.tracks()]
    datasets = sorted({c.dataset for c in mine})
    title = "main track" if track == MAIN_TRACK else "track"
    lines = [f"### {title} `{track}`", "", tables.provenance(mine, track), "", tables.overall(mine, track), ""]
    if any(c.technique == BASELINE for c in mine):  # a track no random subset is scored on has no gains to show
        lines += ["#### Gain over the random subset at the same IPC (≈: within one standard deviation)", ""]
        lines += [tables.gain_over_baseline(mine, track), ""]
    else:
        lines += [f"No random subset is scored on `{track}`, so this track shows no gains over one.", ""]
    for dataset, ipc in tables.columns(mine):
        details = []
        detail = tables.breakdown(mine, track, dataset, ipc)
        if detail is not None:
            details += ["Per part:", "", detail, ""]
        others = tables.other_metrics(mine, track, dataset, ipc)
        if others is not None:
            details += ["Other measures:", "", others, ""]
        curve = out_dir / "plots" / f"{profile}-{dataset}-ipc{ipc}-{track}-severity.png"
        if plots and severity_curves(mine, dataset, track, ipc, curve):
            details += [f"![{dataset} IPC {ipc}: {track} by severity](plots/{curve.name})", ""]
        if details:  # folded: the board's first screen stays the overall tables
            lines += [
                f"<details><summary>{dataset}, IPC {ipc}: {track} in detail</summary>",
                "",
                *details,
                "</details>",
                "",
            ]
    confusion = _confusion_section(mine, out_dir, profile, track) if plots else []
    if confusion:
        lines += [f"<details><summary>Confusion matrices ({track})</summary>", "", *confusion, "</details>", ""]
    if track != MAIN_TRACK:
        return lines
    if plots:
        lines += ["#### Accuracy vs IPC", ""]
        for dataset in datasets:
            target = out_dir / "plots" / f"{profile}-{dataset}.png"
            if accuracy_vs_ipc(mine, dataset, track, target, f"{dataset} ({profile} profile, {track})"):
                lines += [f"![{dataset}: accuracy vs IPC](plots/{profile}-{dataset}.png)", ""]
    lines += ["#### Per technique", ""]
    for technique in tables.technique_order(mine):
        if any(c.is_reference and c.ipc is None for c in mine if c.technique == technique):
            continue
        lines += [f"##### {technique}", "", tables.per_technique(mine, technique, track), ""]
    return lines


def build_markdown(cells: Sequence[BoardCell], out_dir: Path, plots: bool = True) -> str:
    main = [c for c in cells if not c.off_main]
    off = [c for c in cells if c.off_main]
    lines = [
        "# DisTrackted leaderboard",
        "",
        "Generated by `distrack leaderboard build` from the result records under `leaderboard/results/`; do not",
        "edit by hand. One table family per evaluation track (`distrack tracks`); the main track trains fresh",
        "ConvNets on each set. Cells: final-epoch score, mean ± std (distillation seeds × evaluation seeds).",
        "**Bold**: best in the column, or within one standard deviation of it. — : not measured.",
        "† self-reported submission, ✓ verified submission.",
        "",
    ]
    for profile in sorted({c.profile for c in main}, key=_profile_key):
        mine = [c for c in main if c.profile == profile]
        datasets = sorted({c.dataset for c in mine})
        subsets = sorted(
            {(c.dataset, c.records[0]["dataset"]["subset"]) for c in mine if c.records[0]["dataset"]["subset"]}
        )
        lines += [f"## Profile `{profile}`", ""]
        for dataset, note in subsets:
            lines.append(f"- `{dataset}`: {note}.")
        for note in tables.identical_sets(mine):
            lines.append(f"- {note}: one set under two names, so one result, not two.")
        lines.append("")
        tracks = track_order(mine)
        for track in tracks:
            lines += _track_section(mine, out_dir, profile, track, plots)
        lines += labels.section(mine)
        if profile == SEED_PROFILE:
            lines += seed_section(mine)
        forms = tables.set_forms(mine)
        if forms is not None:
            lines += ["### Set forms: items per class and bytes", "", forms, ""]
        lines += ["### Cost", "", "Seconds per evaluation seed for each track; distillation cost per set.", ""]
        lines += [tables.cost_table(mine, tracks), ""]
        maps = sorted((out_dir / "tsne").glob(f"{profile}-*.png"))
        if maps:
            lines += ["### Where the distilled items sit: t-SNE maps", ""]
            lines += [
                "Real test clips (small dots) and each technique's items (large, black-edged), by class colour.",
                "",
            ]
            lines += [f"![{m.stem}](tsne/{m.name})" + "\n" for m in maps]
        lines += ["### Sample sounds", "", SAMPLES_NOTE, ""]
        lines += _samples_section(out_dir, profile, [name for d in datasets for name in sample_cells(mine, d)])
    if off:
        lines += [
            "## Smoke runs and dataset subsets (not comparable; kept off the tables above)",
            "",
            tables.cost_table(off, track_order(off)),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def build(
    results: Sequence[Path],
    out: Path,
    *,
    plots: bool = True,
    samples: bool = False,
    repo_root: Path = Path("."),
    cache_roots: Sequence[Path] = (),
) -> list[BoardCell]:
    cells = group(read_records(results))
    out_dir = out.parent
    folders = (
        ("plots", "Accuracy-vs-IPC plots"),
        ("samples", "Sample sounds and spectrogram grids"),
        ("confusion", "Test confusion matrices, one folder per track"),
        ("tsne", "t-SNE maps written by `distrack leaderboard tsne`"),
    )
    for folder, what in folders:
        # Always present (the DVC stage declares them), even when no cell has a picture yet.
        write_text_atomic(out_dir / folder / "README.md", f"{what}, generated by `distrack leaderboard build`.\n")
    if samples:
        for profile in sorted({c.profile for c in cells if not c.off_main}):
            mine = [c for c in cells if c.profile == profile and not c.off_main]
            for dataset in sorted({c.dataset for c in mine}):
                for name, chosen in sample_cells(mine, dataset).items():
                    render_samples(chosen, out_dir / "samples" / profile / name, repo_root, list(cache_roots))
    markdown = build_markdown(cells, out_dir, plots)
    write_text_atomic(out, markdown)
    if plots:
        _prune_unlinked_pictures(out_dir, markdown)
    return cells


def _prune_unlinked_pictures(out_dir: Path, markdown: str) -> None:
    """Pictures are kept between builds (each is redrawn only when its data changes), so one that the board no
    longer links (a cell whose records are gone) is deleted here."""
    for folder in ("plots", "confusion"):
        for picture in sorted((out_dir / folder).rglob("*.png")):
            if f"({picture.relative_to(out_dir).as_posix()})" not in markdown:
                picture.unlink()


def metrics_summary(cells: Sequence[BoardCell]) -> dict[str, Any]:
    """DVC metrics: profile -> dataset -> technique-ipc -> track -> mean main score."""
    summary: dict[str, Any] = {}
    for cell in cells:
        name = f"{cell.technique}-ipc{cell.ipc or 'all'}"
        scores = {track: cell.score(track) for track in sorted(cell.tracks())}
        summary.setdefault(cell.profile, {}).setdefault(cell.dataset, {})[name] = {
            track: round(score.mean, 4) for track, score in scores.items() if score is not None
        }
    return summary


def export(cells: Sequence[BoardCell], fmt: str) -> str:
    """Flat rows for papers: one per cell and track."""
    rows: list[dict[str, Any]] = []
    for cell in cells:
        for track in sorted(cell.tracks()):
            score = cell.score(track)
            if score is None:
                continue
            rows.append(
                {
                    "profile": cell.profile,
                    "dataset": cell.dataset,
                    "technique": cell.technique,
                    "kind": cell.kind,
                    "ipc": tables.ipc_label(cell.ipc),
                    "track": track,
                    "protocol": cell.protocol(track),
                    # unrounded: a table made from the export rounds once, as the board does (0.5025 -> 0.503)
                    "mean": score.mean,
                    "std": score.std,
                    "sets": score.sets,
                    "n": score.n,
                    "status": cell.status,
                    "off_main": cell.off_main,
                    "records": ";".join(cell.sources),
                }
            )
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["profile"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
