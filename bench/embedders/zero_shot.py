"""Zero-shot rows: an embedder's own label space (YAMNet's 521 AudioSet classes) mapped onto a dataset's
classes by a committed, reviewed mapping file (``mappings/<dataset>.yaml`` beside this module), with no
training data at all. A test clip's score for a class is the highest score among the label-space classes
mapped to it. The ``zero-shot`` reference row has no set; the probe track of an embedder with a label space
scores it where a mapping exists."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from bench.errors import UserError
from bench.sets.references import Reference


class ZeroShot(Reference):
    """Registered through this package's own ``distrackted.references`` entry point, like any plug-in."""

    name = "zero-shot"
    description = "an embedder's own classes mapped to the dataset's (no training data); where a mapping exists"
    per_ipc = False
    has_set = False

    def materialise(self, features, ipc, seed):
        return None


def mapping_path(name: str):
    return resources.files("bench.embedders").joinpath("mappings", f"{name}.yaml")


def load_mapping(name: str, classes: list[str], labels: list[str]) -> dict[str, list[int]]:
    """``mappings/<name>.yaml`` checked against the dataset's ``classes`` and the embedder's ``labels``:
    dataset class -> indices into the label space. A class the dataset lacks, a dataset class left unmapped
    or a label the embedder does not have is refused, naming the file."""
    path = mapping_path(name)
    if not path.is_file():
        raise UserError(f"zero-shot mapping {name!r}: no file {path}")
    raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    table = (raw or {}).get("classes") if isinstance(raw, dict) else None
    if not isinstance(table, dict):
        raise UserError(f"{path}: expected a 'classes' mapping (dataset class -> list of label names)")
    unknown = sorted(set(table) - set(classes))
    if unknown:
        raise UserError(f"{path}: class(es) {', '.join(unknown)} are not classes of the dataset ({', '.join(classes)})")
    unmapped = [c for c in classes if c not in table]
    if unmapped:
        raise UserError(f"{path}: dataset class(es) {', '.join(unmapped)} have no mapping")
    index = {label: i for i, label in enumerate(labels)}
    mapped = {}
    for cls in classes:
        names = table[cls]
        missing = [n for n in names if n not in index] if isinstance(names, list) and names else ["(none)"]
        if missing:
            raise UserError(f"{path}: {cls}: label(s) {', '.join(missing)} are not in the embedder's label space")
        mapped[cls] = [index[n] for n in names]
    return mapped
