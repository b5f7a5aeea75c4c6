"""Where a data-free technique finds its teacher without reading the dataset.

A teacher's store key covers the features it was trained on, and those are keyed by every clip's bytes, so
finding it by key means reading the data. The index maps what is known without the data (dataset, feature
settings, teacher settings, recipe, threads, torch) to the stored teacher and the feature space it was trained
in (classes, item shape, normalisation). Whoever trains or loads a teacher from the data publishes it here;
a data-free technique then needs the index and the teacher file only."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from bench.artefacts.store import ArtefactStore
from bench.artefacts.teachers import Teacher, TeacherParams, get_teacher, teacher_spec
from bench.atomic import write_json_atomic
from bench.errors import UserError
from bench.features.store import FeatureSet
from bench.features.withheld import WithheldSplits, withheld_splits
from bench.hashing import sha256_json
from bench.models import ModelSpec
from bench.params import FeatureParams, ProtocolParams


def teacher_selector(
    dataset: str,
    feature_params: FeatureParams,
    params: TeacherParams,
    profile_model: ModelSpec,
    protocol: ProtocolParams,
    device: torch.device,
) -> str:
    """Every input of :func:`get_teacher` but the data itself."""
    return sha256_json(
        {
            "dataset": dataset,
            "features": dataclasses.asdict(feature_params),
            "teacher": dataclasses.asdict(params),
            "profile_model": profile_model.describe(),
            "protocol": dataclasses.asdict(protocol),
            "threads": torch.get_num_threads() if device.type == "cpu" else None,
            "torch": torch.__version__,
        }
    )


def _entry_path(cache_dir: Path, dataset: str, selector: str) -> Path:
    return cache_dir / "artefacts" / "teacher-index" / f"{dataset}-{selector[:24]}.json"


def publish_teacher(
    features: FeatureSet,
    params: TeacherParams,
    profile_model: ModelSpec,
    protocol: ProtocolParams,
    device: torch.device,
    cache_dir: Path,
) -> Teacher:
    """The teacher for these features (trained now if not stored), entered in the index."""
    teacher = get_teacher(features, params, profile_model, protocol, device, cache_dir)
    selector = teacher_selector(features.dataset, features.params, params, profile_model, protocol, device)
    entry = {
        "dataset": features.dataset,
        "identity": teacher.description["identity"],
        "class_names": list(features.class_names),
        "shape": list(features.shape),
        "mean": features.mean,
        "std": features.std,
        "data_hash": features.data_hash,
        "features_key": features.cache_key,
    }
    path = _entry_path(cache_dir, features.dataset, selector)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, entry)
    return teacher


def find_teacher(
    dataset: str,
    feature_params: FeatureParams,
    params: TeacherParams,
    profile_model: ModelSpec,
    protocol: ProtocolParams,
    device: torch.device,
    cache_dir: Path,
) -> tuple[Teacher, WithheldSplits] | None:
    """The published teacher and its feature space (data withheld), or None if none was published."""
    selector = teacher_selector(dataset, feature_params, params, profile_model, protocol, device)
    path = _entry_path(cache_dir, dataset, selector)
    if not path.is_file():
        return None
    try:
        entry: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        identity, shape = entry["identity"], tuple(int(n) for n in entry["shape"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: unreadable teacher index entry ({exc}); delete it to rebuild") from None

    def missing() -> Any:
        raise UserError(f"{path}: its teacher is no longer stored; delete the entry to train the teacher again")

    artefact = ArtefactStore(cache_dir / "artefacts").get_or_build("teacher", identity, missing)
    spec = teacher_spec(params, profile_model)
    network = spec.build(shape, len(entry["class_names"]), params.seed).to(device)
    network.load_state_dict({k: v.to(device) for k, v in artefact.tensors.items()})
    network.eval()
    space = withheld_splits(
        dataset,
        entry["class_names"],
        feature_params,
        shape,
        float(entry["mean"]),
        float(entry["std"]),
        str(entry["data_hash"]),
        str(entry["features_key"]),
    )
    return Teacher(network, spec, artefact.description, built=False), space
