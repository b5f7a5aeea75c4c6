"""The sweep grid (params.yaml's ``grid`` section) and its cells."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data.registry import dataset_names
from bench.errors import UserError
from bench.params import parse_section
from bench.techniques import technique_names


@dataclass(frozen=True)
class Grid:
    profile: str
    datasets: tuple[str, ...]
    techniques: tuple[str, ...]
    ipc: tuple[int, ...]
    seeds: tuple[int, ...] = (0,)  # distillation seeds; each set is then scored over the protocol's seeds


@dataclass(frozen=True, order=True)
class Cell:
    """One distilled set: a technique applied to a dataset at one IPC with one seed."""

    dataset: str
    technique: str
    ipc: int
    seed: int

    @property
    def slug(self) -> str:
        return f"{self.technique}-ipc{self.ipc}-seed{self.seed}"

    # One folder per dataset and technique: the unit of a DVC stage (see dvc.yaml), so that a technique's
    # sets and records are one stage's output and changing its params re-runs only its stages.
    def set_path(self, outputs: Path, profile: str) -> Path:
        return outputs / "sets" / profile / self.dataset / self.technique / f"{self.slug}.safetensors"

    def record_path(self, results: Path, profile: str) -> Path:
        return results / profile / self.dataset / self.technique / f"{self.slug}.json"

    def describe(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "technique": self.technique, "ipc": self.ipc, "seed": self.seed}


def load_grid(params: Mapping[str, Any]) -> Grid:
    grid = parse_section(Grid, params.get("grid"), "grid")
    for field, known in (("datasets", dataset_names()), ("techniques", technique_names())):
        unknown = sorted(set(getattr(grid, field)) - set(known))
        if unknown:
            raise UserError(f"grid.{field}: unknown {', '.join(unknown)} (known: {', '.join(known)})")
    if any(k < 1 for k in grid.ipc):
        raise UserError(f"grid.ipc: every value must be at least 1, got {list(grid.ipc)}")
    if not (grid.datasets and grid.techniques and grid.ipc and grid.seeds):
        raise UserError("grid: datasets, techniques, ipc and seeds must each list at least one value")
    return grid


def expand(grid: Grid) -> list[Cell]:
    """Every cell, in a fixed order (dataset, technique, IPC, seed) so runs and merges are deterministic."""
    return [Cell(*values) for values in itertools.product(grid.datasets, grid.techniques, grid.ipc, grid.seeds)]


_FILTER_KEYS = {"dataset": str, "technique": str, "ipc": int, "seed": int}


def parse_only(values: Iterable[str]) -> dict[str, set[Any]]:
    """``--only technique=dm,dataset=fsdd`` (repeatable; ``technique=dm+dc`` or repeated keys for several)."""
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


def select(cells: Iterable[Cell], only: Mapping[str, set[Any]]) -> list[Cell]:
    return [cell for cell in cells if all(getattr(cell, key) in wanted for key, wanted in only.items())]
