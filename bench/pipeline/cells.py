"""The two jobs of one grid cell, shared by `distrack distill` / `distrack evaluate`, the sweep runner and
the DVC stages: distil a set to a file, and score a set file under the fixed protocol into a record."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from bench.atomic import write_json_atomic
from bench.device import device_description
from bench.errors import UserError
from bench.evaluation.acceleration import NONE, Acceleration
from bench.evaluation.protocol import ProtocolResult, accuracy, evaluate_set, train_network
from bench.evaluation.prototype import evaluate_prototypes
from bench.evaluation.records import build_record, write_record
from bench.evaluation.sets import LabelledSet, load_set, save_set
from bench.hashing import sha256_file, sha256_json
from bench.params import ProtocolParams
from bench.session import Session
from bench.techniques import Budget, DistillContext, Technique, get_technique

BY_DATASET = "by_dataset"
BY_PROFILE = "by_profile"


def parse_value(text: str) -> Any:
    """A ``--param`` value as YAML, except that ``1e-6`` is a number (YAML 1.1 wants ``1.0e-6``)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _scoped(section: dict[str, Any], where: str, key: str, known: Mapping[str, Any], what: str) -> dict[str, Any]:
    scoped = section.pop(key, None) or {}
    if not isinstance(scoped, dict) or not all(isinstance(v, dict) for v in scoped.values()):
        raise UserError(f"params.yaml {where}.{key}: expected a mapping {what} -> params")
    unknown = set(scoped) - set(known or {})
    if unknown:
        raise UserError(f"params.yaml {where}.{key}: unknown {what}(s) {sorted(unknown)}")
    return scoped


def technique_overrides(
    session: Session, technique: str, pairs: tuple[str, ...] = (), dataset: str | None = None
) -> dict[str, Any]:
    """params.yaml's ``techniques.<name>`` section, then its ``by_profile.<profile>`` values for the session's
    profile, its ``by_dataset.<dataset>`` values for ``dataset``, then ``KEY=VALUE`` pairs."""
    where = f"techniques.{technique}"
    section = dict((session.params.get("techniques") or {}).get(technique) or {})
    per_profile = _scoped(section, where, BY_PROFILE, session.params.get("profiles"), "profile")
    per_dataset = _scoped(section, where, BY_DATASET, session.params.get("datasets"), "dataset")
    section.update(per_profile.get(session.profile.name, {}))
    if dataset is not None:
        section.update(per_dataset.get(dataset, {}))
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--param expects KEY=VALUE, got {pair!r}")
        section[key] = parse_value(value)
    return section


def build_technique(
    session: Session, name: str, pairs: tuple[str, ...] = (), dataset: str | None = None, **context: Any
) -> Technique:
    cls = get_technique(name)
    params = cls.configure(session.profile.budgets, technique_overrides(session, name, pairs, dataset))
    return cls(
        params,
        DistillContext(
            model=session.profile.model, profile=session.profile.name, cache_dir=session.cache_dir, **context
        ),
    )


def validation_monitor(session: Session, dataset: str) -> Callable[[torch.Tensor, torch.Tensor, float | None], float]:
    """Periodic validation during distillation: one network (seed 0) trained for a third of the protocol's
    epochs on the current synthetic set, scored on the VALIDATION split (never test)."""
    feats = session.features(dataset)
    profile = session.profile
    protocol = dataclasses.replace(profile.protocol, epochs=max(1, profile.protocol.epochs // 3), seeds=[0])

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
) -> dict[str, Any]:
    """Distil, then write the set and its sidecar JSON (``<out>.json``) atomically; return the sidecar."""
    if out.suffix != ".safetensors":
        raise UserError(f"--out {out}: the set is written as safetensors; use a .safetensors name")
    if checkpoint_every < 1:
        raise UserError("--checkpoint-every must be at least 1")
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
    feats = session.features(dataset)
    result = method.run(feats, ipc, seed, Budget(iterations), session.device, progress=session.progress)
    metadata = {
        "dataset": dataset,
        "seed": seed,
        "profile": session.profile.name,
        "feature_key": feats.cache_key,
        "data_hash": feats.data_hash,
        "device": device_description(session.device),
        **(extra or {}),
    }
    save_set(out, result.to_labelled(metadata))
    sidecar = {
        **metadata,
        "technique": technique,
        "ipc": ipc,
        "params": result.params,
        "cost": dataclasses.asdict(result.cost),
        "learned_lr": result.lr,
        "loss_history": result.history,
        "validation_history": [list(pair) for pair in result.monitored],
    }
    write_json_atomic(out.with_suffix(".json"), sidecar)
    checkpoint.unlink(missing_ok=True)
    return sidecar


def tensor_digest(labelled: LabelledSet) -> str:
    digest = hashlib.sha256()
    digest.update(labelled.x.contiguous().numpy().tobytes())
    digest.update(labelled.y.contiguous().numpy().tobytes())
    return digest.hexdigest()


def evaluate_to_record(
    session: Session,
    dataset: str,
    labelled: LabelledSet,
    out: Path,
    *,
    protocol: ProtocolParams | None = None,
    technique: str | None = None,
    digest: str | None = None,
    source: str | None = None,
    prototype: bool = True,
    content_key: str | None = None,
    vectorise: str = "auto",
    acceleration: Acceleration = NONE,
) -> tuple[dict[str, Any], ProtocolResult]:
    """Train fresh networks on ``labelled`` under the protocol; write the validated record to ``out``."""
    profile = session.profile
    protocol = protocol or profile.protocol
    if protocol.epochs < 1:
        raise UserError(f"--epochs must be at least 1, got {protocol.epochs}")
    feats = session.features(dataset)
    technique = technique or str(labelled.metadata.get("technique", "file"))
    set_ipc = None if technique == "full" else labelled.ipc
    device = session.device
    result = evaluate_set(
        labelled.x,
        labelled.y,
        feats,
        profile.model,
        protocol,
        device,
        labelled.lr,
        progress=session.progress,
        vectorise=vectorise,
        acceleration=acceleration,
    )
    proto = (
        evaluate_prototypes(labelled.x, labelled.y, feats, profile.model, protocol.seeds, device) if prototype else None
    )
    evaluated: dict[str, Any] = {
        "technique": technique,
        "params": labelled.metadata.get("params", {}),
        "ipc": set_ipc,
        "num_items": len(labelled.y),
        "sha256": digest or tensor_digest(labelled),
        "source": source,
        "learned_lr": labelled.lr,
        "set_metadata_hash": sha256_json(labelled.metadata),
    }
    if content_key is not None:
        evaluated["content_key"] = content_key
    if "seed" in labelled.metadata:
        evaluated["distill_seed"] = labelled.metadata["seed"]
    if "cost" in labelled.metadata:
        evaluated["distill_cost"] = labelled.metadata["cost"]
    record = build_record(
        features=feats,
        dataset_options=session.dataset(dataset).describe_options(),
        profile=profile.name,
        model=profile.model,
        protocol=protocol,
        device=device_description(device),
        result=result,
        prototype=proto,
        evaluated=evaluated,
    )
    if acceleration.active:  # changes the arithmetic (bf16), the summation order (chunked) or the kernels
        record["protocol"]["acceleration"] = acceleration.names()
    write_record(out, record)
    return record, result


def evaluate_set_file(session: Session, dataset: str, set_path: Path, out: Path, **kwargs: Any) -> dict[str, Any]:
    feats = session.features(dataset)
    labelled = load_set(set_path, shape=feats.shape, num_classes=feats.num_classes)
    record, _ = evaluate_to_record(
        session, dataset, labelled, out, digest=sha256_file(set_path), source=str(set_path), **kwargs
    )
    return record
