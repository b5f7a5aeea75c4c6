"""The sweep grid (params.yaml's ``grid`` section) and its cells: every technique and reference row x
dataset x IPC x distillation seed, each scored by every track of the grid."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data.registry import dataset_names
from bench.errors import UserError
from bench.evaluation.tracks import track_names
from bench.sets.references import REFERENCES, reference_names
from bench.techniques import technique_names
from bench.typed import did_you_mean, parse_section


@dataclass(frozen=True)
class Grid:
    profile: str
    datasets: tuple[str, ...]
    techniques: tuple[str, ...]
    ipc: tuple[int, ...]
    seeds: tuple[int, ...] = (0,)  # distillation seeds; each set is then scored over each track's seeds
    tracks: tuple[str, ...] = ("convnet", "nearest-mean")
    references: tuple[str, ...] = ("random",)


@dataclass(frozen=True)
class GridCell:
    """One evaluated set: a technique (or a reference row) applied to a dataset at one IPC with one seed.
    A reference with one row per dataset (``full``) has ``ipc`` None."""

    dataset: str
    technique: str
    ipc: int | None
    seed: int
    kind: str = "technique"  # or "reference"

    @property
    def slug(self) -> str:
        if self.ipc is None:
            return self.technique
        return f"{self.technique}-ipc{self.ipc}-seed{self.seed}"

    def sort_key(self) -> tuple:
        return (self.dataset, self.technique, self.ipc or 0, self.seed)

    # One folder per dataset, the output of its DVC distill or evaluate stage (see dvc.yaml), and in it one per
    # technique, so that a technique's sets and records sit together for the board, reviewers and `dvc push`.
    def set_path(self, outputs: Path, profile: str) -> Path:
        return outputs / "sets" / profile / self.dataset / self.technique / f"{self.slug}.safetensors"

    def record_path(self, results: Path, profile: str) -> Path:
        return results / profile / self.dataset / self.technique / f"{self.slug}.json"

    def describe(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "technique": self.technique, "ipc": self.ipc, "seed": self.seed}


def _check_known(grid: Grid, field: str, known: list[str]) -> None:
    unknown = sorted(set(getattr(grid, field)) - set(known))
    if unknown:
        hint = did_you_mean(unknown[0], known)
        raise UserError(f"grid.{field}: unknown {', '.join(unknown)}{hint} (known: {', '.join(known)})")


def load_grid(params: Mapping[str, Any]) -> Grid:
    grid = parse_section(Grid, params.get("grid"), "grid")
    _check_known(grid, "datasets", dataset_names())
    _check_known(grid, "techniques", technique_names())
    _check_known(grid, "tracks", track_names())
    _check_known(grid, "references", reference_names())
    if any(k < 1 for k in grid.ipc):
        raise UserError(f"grid.ipc: every value must be at least 1, got {list(grid.ipc)}")
    if not (grid.datasets and grid.ipc and grid.seeds and grid.tracks and (grid.techniques or grid.references)):
        raise UserError("grid: datasets, ipc, seeds, tracks and techniques or references must each list a value")
    for field in ("seeds", "ipc", "tracks", "techniques", "references", "datasets"):
        values = getattr(grid, field)
        if len(set(values)) != len(values):
            raise UserError(f"grid.{field}: values must be distinct, got {list(values)}")
    return grid


def expand(grid: Grid) -> list[GridCell]:
    """Every cell, in a fixed order (dataset, technique or reference, IPC, seed) so runs and merges are
    deterministic. A reference without IPC (``full``) is one cell per dataset."""
    cells = [GridCell(*values) for values in itertools.product(grid.datasets, grid.techniques, grid.ipc, grid.seeds)]
    for dataset, name in itertools.product(grid.datasets, grid.references):
        if REFERENCES.get(name).per_ipc:
            cells += [GridCell(dataset, name, ipc, seed, "reference") for ipc in grid.ipc for seed in grid.seeds]
        else:
            cells.append(GridCell(dataset, name, None, 0, "reference"))
    return sorted(cells, key=GridCell.sort_key)


_FILTER_KEYS = {"dataset": str, "technique": str, "ipc": int, "seed": int}


def parse_only(values: Iterable[str]) -> dict[str, set[Any]]:
    """``--only technique=dm,dataset=fsdd`` (repeatable; ``technique=dm+dc`` or repeated keys for several).
    ``technique`` also selects reference rows (``technique=random``)."""
    chosen: dict[str, set[Any]] = {}
    for value in values:
        for part in filter(None, (p.strip() for p in value.split(","))):
            key, sep, wanted = part.partition("=")
            if not sep or key not in _FILTER_KEYS or not wanted:
                raise UserError(f"--only: expected KEY=VALUE with KEY one of {', '.join(_FILTER_KEYS)}, got {part!r}")
            try:
                chosen.setdefault(key, set()).update(_FILTER_KEYS[key](v) for v in wanted.split("+"))
            except ValueError:
                raise UserError(f"--only: {key} must be an integer, got {wanted!r}") from None
    return chosen


def select(cells: Iterable[GridCell], only: Mapping[str, set[Any]]) -> list[GridCell]:
    return [cell for cell in cells if all(getattr(cell, key) in wanted for key, wanted in only.items())]
