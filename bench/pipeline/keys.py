"""Content keys: a result is reused only when everything that can change it is unchanged.

The **set key** covers the data and features (the feature cache key), the technique's resolved params, the
network it matches with, the cell, the code that distils (:func:`~bench.provenance.source_digest` of the
technique's module and the network family) and torch's version. It covers nothing about evaluation, so
changing the protocol never re-distils. Each **track key** covers its set key, the track's protocol id and
description (params, recipe, networks, speed-ups) and the code that evaluates. A teacher-using technique's set
key and a teacher-reading track's key also cover what makes their teacher (key definition 3), including the CPU
thread count it trains with."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from bench.evaluation.tracks.base import Track
from bench.hashing import sha256_json
from bench.models import MODELS, ModelSpec
from bench.pipeline.grid import GridCell
from bench.provenance import definition_in_force, source_digest
from bench.session import Session
from bench.sets.references import REFERENCES
from bench.techniques.configure import build_technique

TORCH_VERSION = torch.__version__.split("+")[0]


def _family_modules(specs: list[ModelSpec]) -> list[str]:
    return sorted({MODELS.get(spec.architecture).__module__ for spec in specs})


def set_key(session: Session, cell: GridCell) -> str:
    feats = session.features(cell.dataset)
    described: dict[str, Any] = {"features": feats.cache_key, "cell": cell.describe(), "torch": TORCH_VERSION}
    if cell.kind == "reference":
        described.update(kind="reference", code=source_digest(REFERENCES.get(cell.technique).__module__))
    else:
        technique = build_technique(session, cell.technique, dataset=cell.dataset)
        model = session.profile.model
        described.update(
            kind="technique",
            technique=technique.describe(),
            model=model.describe(),
            code=source_digest(type(technique).__module__, *_family_modules([model])),
        )
        if getattr(technique, "teacher_params", None) is not None and definition_in_force() >= 3:
            # what makes its teacher beyond the params above: the profile's recipe, and the CPU thread count
            # (a teacher trained with another one sums in another order, so it is another teacher)
            recipe = dataclasses.asdict(session.profile.protocol)
            described["teacher"] = {"recipe": recipe, "threads": _cpu_threads(session.device)}
    return sha256_json(described)


def _cpu_threads(device: torch.device) -> int | None:
    return torch.get_num_threads() if device.type == "cpu" else None


def _teacher_threads(track: Track) -> dict[str, Any]:
    """A track that reads a teacher describes its params, recipe and networks, but not the CPU thread count
    the teacher trains with, which changes the teacher's weights."""
    if "teacher" not in track.requires or definition_in_force() < 3:
        return {}
    return {"teacher_threads": _cpu_threads(track.context.device)}


def track_key(set_key: str, track: Track) -> str:
    return sha256_json(
        {
            "set": set_key,
            "track": track.name,
            "protocol": track.protocol(),
            "describe": track.describe(),
            "code": source_digest(
                type(track).__module__, *_family_modules(track.model_specs()), *getattr(track, "code_modules", list)()
            ),
            "torch": TORCH_VERSION,
            **_teacher_threads(track),
        }
    )
