"""The two jobs of one grid cell, shared by `distrack distill` / `distrack evaluate`, the sweep runner and
the DVC stages: distil a set to a file, and score a set with evaluation tracks into a record."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from bench.artefacts.teacher_index import find_teacher, publish_teacher
from bench.atomic import write_json_atomic
from bench.device import device_description
from bench.errors import UserError
from bench.evaluation.protocol import accuracy, train_network
from bench.evaluation.records import build_record, track_entry, write_record
from bench.evaluation.tracks.base import Track
from bench.features.store import FeatureSet, TrainingSplits
from bench.features.withheld import withhold
from bench.hashing import sha256_file
from bench.session import Session
from bench.sets.files import LabelledSet, load_set, save_set, tensor_digest
from bench.techniques import Budget
from bench.techniques.configure import build_technique
from bench.techniques.data_free import DataFreeTechnique
from bench.techniques.registry import get_technique
from bench.techniques.teacher_guided import TeacherGuidedTechnique
from bench.writable import write_or_rescue


def validation_monitor(session: Session, dataset: str) -> Callable[[torch.Tensor, torch.Tensor, float | None], float]:
    """Periodic validation during distillation: one network (seed 0) trained for a third of the protocol's
    epochs on the current synthetic set, scored on the VALIDATION split (never test)."""
    feats = session.features(dataset)
    profile = session.profile
    protocol = dataclasses.replace(profile.protocol, epochs=max(1, profile.protocol.epochs // 3), seeds=(0,))

    def monitor(x: torch.Tensor, y: torch.Tensor, lr: float | None) -> float:
        model, _ = train_network(x, y, feats.num_classes, profile.model, protocol, 0, session.device, lr)
        return accuracy(model, feats.validation, session.device)

    return monitor


def distill_to_file(
    session: Session,
    technique: str,
    dataset: str,
    ipc: int,
    seed: int,
    out: Path,
    *,
    pairs: tuple[str, ...] = (),
    iterations: int | None = None,
    resume: bool = False,
    checkpoint_every: int = 50,
    checkpoint: Path | None = None,
    extra: Mapping[str, Any] | None = None,
    validation_checks: int = 0,
    features_key: str | None = None,
) -> dict[str, Any]:
    """Distil, then write the set and its sidecar JSON (``<out>.json``: params, cost, loss history) atomically;
    return the sidecar. ``features_key``: the dataset's features as the caller already hashed them (a data-free
    technique's published teacher must have been trained on those, else it is trained or loaded again)."""
    if out.suffix != ".safetensors":
        raise UserError(f"--out {out}: the set is written as safetensors; use a .safetensors name")
    if checkpoint_every < 1:
        raise UserError("--checkpoint-every must be at least 1")
    if getattr(get_technique(technique), "data_free", False):
        validation_checks = 0  # a data-free technique is never shown the validation split, not even to monitor
    checkpoint = checkpoint or out.with_name(out.name + ".ckpt")
    method = build_technique(
        session,
        technique,
        pairs,
        dataset,
        checkpoint_path=checkpoint,
        checkpoint_every=checkpoint_every,
        resume=resume,
        monitor=validation_monitor(session, dataset) if validation_checks > 0 else None,
        monitor_checks=validation_checks,
    )
    if isinstance(method, DataFreeTechnique):
        feats: TrainingSplits = data_free_inputs(session, dataset, method, features_key)
    else:
        features = session.features(dataset)
        if isinstance(method, TeacherGuidedTechnique):
            give_teacher(session, features, method)
        feats = features.training_splits()
    result = method.run(feats, ipc, seed, Budget(iterations), session.device, progress=session.progress)
    metadata = {
        "dataset": dataset,
        "seed": seed,
        "profile": session.profile.name,
        "feature_key": feats.cache_key,
        "data_hash": feats.data_hash,
        **(extra or {}),
    }
    labelled = result.to_labelled(metadata)
    write_or_rescue(out, lambda path: save_set(path, labelled), "distilled set")
    sidecar = {
        **metadata,
        "technique": technique,
        "ipc": ipc,
        "params": result.params,
        "cost": dataclasses.asdict(result.cost),
        "device": device_description(session.device),
        "learned_lr": result.lr,
        "loss_history": result.history,
        "validation_history": [list(pair) for pair in result.monitored],
    }
    write_or_rescue(out.with_suffix(".json"), lambda path: write_json_atomic(path, sidecar), "set's sidecar")
    checkpoint.unlink(missing_ok=True)
    return sidecar


def give_teacher(session: Session, features: FeatureSet, method: TeacherGuidedTechnique) -> None:
    """A teacher-guided technique's teacher, trained on ``features`` (or found stored) and published."""
    profile = session.profile
    settings = (profile.model, profile.protocol, session.device, session.cache_dir)
    method.use_teacher(publish_teacher(features, method.teacher_params, *settings))


def data_free_inputs(
    session: Session, dataset: str, method: DataFreeTechnique, features_key: str | None = None
) -> TrainingSplits:
    """Give ``method`` its teacher and return the feature space it distils in, the data withheld. The teacher
    index is asked first, which reads no audio; only without a published teacher (or one trained on other
    features than ``features_key``) is the dataset read, to train or load the teacher and publish it."""
    profile = session.profile
    settings = (method.teacher_params, profile.model, profile.protocol, session.device, session.cache_dir)
    found = find_teacher(dataset, profile.features_for(dataset), *settings)
    if found is not None and features_key in (None, found[1].cache_key):
        teacher, space = found
    else:
        feats = session.features(dataset)
        teacher, space = publish_teacher(feats, *settings), withhold(feats)
    method.use_teacher(teacher)
    return space


def read_sidecar(set_path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(set_path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def load_set_for(session: Session, dataset: str, path: Path) -> LabelledSet:
    """A set file checked against the dataset's classes and item shape (log-mels) or length (waveforms)."""
    feats = session.features(dataset)
    return load_set(path, shape=feats.shape, num_classes=feats.num_classes, num_samples=feats.params.num_samples)


def describe_set(
    labelled: LabelledSet,
    *,
    kind: str,
    technique: str,
    digest: str | None = None,
    source: str | None = None,
    content_key: str | None = None,
    sidecar: Mapping[str, Any] | None = None,
    per_ipc: bool = True,
) -> dict[str, Any]:
    """The record's ``evaluated_set`` section (``per_ipc`` False for a row with no IPC, e.g. the full set)."""
    described: dict[str, Any] = {
        "kind": kind,
        "technique": technique,
        "params": labelled.metadata.get("params", {}),
        "ipc": labelled.ipc if per_ipc else None,
        "num_items": len(labelled.y),
        "sha256": digest or tensor_digest(labelled),
        "tensor_sha256": tensor_digest(labelled),
        "source": source,
        "learned_lr": labelled.lr,
        "content_key": content_key,
        **labelled.describe(),
    }
    if not per_ipc:
        described.pop("budget")
    if "seed" in labelled.metadata and kind == "technique":
        described["distill_seed"] = labelled.metadata["seed"]
    if sidecar is not None and "cost" in sidecar:
        described["distill_cost"] = sidecar["cost"]
    return described


def describe_setless(reference: str, source: str, content_key: str | None) -> dict[str, Any]:
    """The ``evaluated_set`` of a reference row that has no set at all (a zero-shot model)."""
    return {
        "kind": "reference",
        "technique": reference,
        "params": {},
        "ipc": None,
        "num_items": 0,
        "sha256": None,
        "source": source,
        "learned_lr": None,
        "content_key": content_key,
    }


def evaluate_to_record(
    session: Session,
    dataset: str,
    labelled: LabelledSet | None,
    out: Path,
    tracks: Sequence[Track],
    evaluated: dict[str, Any],
    *,
    keys: Mapping[str, str] | None = None,
    earlier: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Score ``labelled`` with every track in ``tracks`` and write the validated record to ``out``.
    ``earlier`` holds track results already up to date for this very set (kept as they are), ``keys`` each
    track's content key."""
    feats = session.features(dataset)
    results = dict(earlier or {})
    for track in tracks:
        if not track.supports(labelled):
            continue
        results[track.name] = track_entry(track, track.evaluate(labelled, feats), (keys or {}).get(track.name))
    if not results:
        raise UserError(f"none of the tracks {', '.join(t.name for t in tracks)} can score this set")
    record = build_record(
        features=feats,
        dataset_options=session.dataset(dataset).describe_options(),
        profile=session.profile.name,
        evaluated=evaluated,
        results=results,
    )
    write_or_rescue(out, lambda path: write_record(path, record), "result record")
    return record


def evaluate_set_file(
    session: Session, dataset: str, set_path: Path, out: Path, tracks: Sequence[Track], **kwargs: Any
) -> dict[str, Any]:
    """Score a set file; its sidecar (``<set>.json``), when present, supplies the distillation cost."""
    labelled = load_set_for(session, dataset, set_path)
    technique = kwargs.pop("technique", None) or str(labelled.metadata.get("technique", "file"))
    evaluated = describe_set(
        labelled,
        kind=kwargs.pop("kind", "file"),
        technique=technique,
        digest=sha256_file(set_path),
        source=str(set_path),
        content_key=kwargs.pop("content_key", None),
        sidecar=read_sidecar(set_path),
    )
    return evaluate_to_record(session, dataset, labelled, out, tracks, evaluated, **kwargs)
