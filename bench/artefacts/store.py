"""A content-keyed store of tensor artefacts: ``<root>/<kind>/<key>.safetensors`` with its description in the
file's metadata. Built once, then loaded; written atomically, so a killed build leaves nothing behind and two
processes building the same key at once both end with one complete file."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from bench.atomic import atomic_path
from bench.errors import DataError
from bench.hashing import sha256_json


@dataclass
class Artefact:
    tensors: dict[str, torch.Tensor]
    description: dict[str, Any]
    path: Path
    built: bool  # False: loaded from the store (a cache hit)


class ArtefactStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / f"{key}.safetensors"

    def get_or_build(
        self,
        kind: str,
        identity: Mapping[str, Any],
        build: Callable[[], tuple[dict[str, torch.Tensor], dict[str, Any]]],
    ) -> Artefact:
        """The artefact whose ``identity`` (everything that determines it) hashes to its key: loaded when
        stored, else ``build()`` gives its tensors and a JSON-able description, which are stored."""
        key = sha256_json(dict(identity))
        path = self.path(kind, key)
        if path.is_file():
            return self._load(path)
        tensors, description = build()
        description = {**description, "identity": dict(identity), "key": key}
        with atomic_path(path) as tmp:
            save_file(
                {k: v.detach().contiguous().cpu() for k, v in tensors.items()},
                str(tmp),
                metadata={"description": json.dumps(description, sort_keys=True, default=str)},
            )
        return Artefact(tensors, description, path, built=True)

    @staticmethod
    def _load(path: Path) -> Artefact:
        try:
            with safe_open(str(path), framework="pt") as handle:
                description = json.loads((handle.metadata() or {})["description"])
                tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"{path}: unreadable artefact ({exc}); delete it to rebuild") from None
        return Artefact(tensors, description, path, built=False)
