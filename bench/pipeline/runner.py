"""Running one cell of a sweep, resumably: skip what is already done for the same content key, distil with
checkpoints, evaluate, log to MLflow. Everything a worker needs travels in picklable :class:`SweepSettings`,
so the same function runs in-process, in a process pool, or as a Slurm job."""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.evaluation.acceleration import Acceleration
from bench.evaluation.sets import load_set
from bench.hashing import sha256_json
from bench.pipeline.cells import build_technique, distill_to_file, evaluate_set_file
from bench.pipeline.grid import Cell
from bench.pipeline.tracking import CellLog, TrackingTarget, log_cell
from bench.provenance import code_digest, git_commit
from bench.session import Session

STAGES = ("all", "distill", "evaluate")


@dataclass(frozen=True)
class SweepSettings:
    params_path: str
    profile: str | None
    data_root: str | None
    cache_dir: str
    device: str
    outputs: str  # distilled sets go under <outputs>/sets/<profile>/<dataset>/<technique>/
    results: str  # records go under <results>/<profile>/<dataset>/<technique>/
    dataset_dirs: dict[str, str] = field(default_factory=dict)
    stage: str = "all"
    checkpoint_every: int = 10
    validation_checks: int = 4  # periodic validation accuracy during distillation (0: none)
    acceleration: str = ""  # opt-in evaluation speed-ups (bench.evaluation.acceleration), comma-separated
    threads: int | None = None  # torch threads per worker (None: torch's default)
    progress: bool = False

    @classmethod
    def for_session(
        cls, session: Session, params_path: Path, profile: str, outputs: Path, results: Path, **options: Any
    ) -> SweepSettings:
        """Settings that rebuild ``session`` (params, data root, cache, device, dataset folders) in workers."""
        return cls(
            params_path=str(params_path),
            profile=profile,
            data_root=str(session.data_root_option) if session.data_root_option else None,
            cache_dir=str(session.cache_dir),
            device=session.device_name,
            outputs=str(outputs),
            results=str(results),
            dataset_dirs=dict(session.dataset_dirs),
            **options,
        )

    def session(self) -> Session:
        return Session(
            params_path=Path(self.params_path),
            profile_name=self.profile,
            data_root_option=Path(self.data_root) if self.data_root else None,
            cache_dir=Path(self.cache_dir),
            device_name=self.device,
            progress=self.progress,
            dataset_dirs=dict(self.dataset_dirs),
        )


@dataclass
class CellOutcome:
    cell: Cell
    status: str  # "done", "up to date" or "failed"
    seconds: float = 0.0
    test_mean: float | None = None
    test_std: float | None = None
    message: str = ""
    run_id: str | None = None


def content_key(session: Session, cell: Cell) -> str:
    """Code version, data and feature hash, network, protocol, the technique's resolved params and the cell:
    a result is reused only when all of these are unchanged."""
    feats = session.features(cell.dataset)
    technique = build_technique(session, cell.technique, dataset=cell.dataset)
    profile = session.profile
    return sha256_json(
        {
            "code": code_digest(),
            "features": feats.cache_key,
            "model": dataclasses.asdict(profile.model),
            "protocol": dataclasses.asdict(profile.protocol),
            "technique": technique.describe(),
            "cell": cell.describe(),
        }
    )


def record_key(key: str, acceleration: str) -> str:
    """The record's key: the set's, plus the evaluation speed-ups when any is on. Distillation does not
    depend on them, so switching one on re-evaluates a cell but never re-distils it, and plain records
    keep their keys."""
    return sha256_json({"set": key, "acceleration": acceleration}) if acceleration else key


def _stored_key(path: Path, *keys: str) -> str | None:
    try:
        value: Any = json.loads(path.read_text(encoding="utf-8"))
        for key in keys:
            value = value[key]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def cell_state(settings: SweepSettings, cell: Cell) -> tuple[str, str]:
    """``(content key, state)`` where state is ``up to date``, ``distilled`` or ``missing``."""
    session = settings.session()
    key = content_key(session, cell)
    profile = session.profile.name
    stored = _stored_key(cell.record_path(Path(settings.results), profile), "evaluated_set", "content_key")
    if stored == record_key(key, settings.acceleration):
        return key, "up to date"
    set_path = cell.set_path(Path(settings.outputs), profile)
    if _stored_key(set_path.with_suffix(".json"), "content_key") == key and set_path.is_file():
        return key, "distilled"
    return key, "missing"


def _distill(session: Session, settings: SweepSettings, cell: Cell, key: str) -> Path:
    set_path = cell.set_path(Path(settings.outputs), session.profile.name)
    checkpoint = set_path.with_name(f"{set_path.name}.{key[:12]}.ckpt")
    for stale in set_path.parent.glob(f"{set_path.name}.*.ckpt"):
        if stale != checkpoint:
            stale.unlink()  # a checkpoint of older code or params can never be resumed
    distill_to_file(
        session,
        cell.technique,
        cell.dataset,
        cell.ipc,
        cell.seed,
        set_path,
        resume=checkpoint.is_file(),
        checkpoint_every=settings.checkpoint_every,
        checkpoint=checkpoint,
        extra={"content_key": key},
        validation_checks=settings.validation_checks,
    )
    return set_path


def _cell_log(session: Session, cell: Cell, key: str, set_path: Path, record: dict[str, Any]) -> CellLog:
    sidecar = json.loads(set_path.with_suffix(".json").read_text(encoding="utf-8"))
    results = record["results"]
    final = {
        "test_accuracy_mean": results["test_accuracy"]["mean"],
        "test_accuracy_std": results["test_accuracy"]["std"],
        "validation_accuracy_mean": results["validation_accuracy"]["mean"],
        "distill_seconds": sidecar["cost"]["wall_seconds"],
        "distill_peak_memory_mb": sidecar["cost"]["peak_memory_mb"],
        "evaluation_seconds": record["cost"]["wall_seconds"],
    }
    if results.get("prototype_test_accuracy"):
        final["prototype_test_accuracy_mean"] = results["prototype_test_accuracy"]["mean"]
    return CellLog(
        name=f"{cell.dataset}/{cell.slug}",
        params={**cell.describe(), "profile": session.profile.name, **sidecar["params"]},
        tags={
            "technique": cell.technique,
            "dataset": cell.dataset,
            "ipc": str(cell.ipc),
            "seed": str(cell.seed),
            "profile": session.profile.name,
            "git_commit": git_commit() or "unknown",
            "dataset_hash": record["dataset"]["data_hash"],
            "content_key": key,
        },
        series={
            "distill_loss": sidecar["loss_history"],
            "distill_validation_accuracy": [tuple(pair) for pair in sidecar.get("validation_history", [])],
            "validation_accuracy_per_eval_seed": results["validation_accuracy"]["per_seed"],
            "test_accuracy_per_eval_seed": results["test_accuracy"]["per_seed"],
        },
        final=final,
        artefacts=[set_path, set_path.with_suffix(".json")],
    )


def _artefact_hook(session: Session, cell: Cell, set_path: Path, record_path: Path):
    def render(scratch: Path) -> list[Path]:
        from bench.samples import write_spectrogram_grid, write_wavs

        feats = session.features(cell.dataset)
        labelled = load_set(set_path, shape=feats.shape, num_classes=feats.num_classes)
        png = write_spectrogram_grid(feats, labelled, scratch / "spectrograms.png", f"{cell.dataset} {cell.slug}")
        samples = scratch / "samples"
        write_wavs(feats, labelled, samples, per_class=1, iterations=32)
        record_copy = scratch / "record.json"
        record_copy.write_bytes(record_path.read_bytes())
        return [png, samples, record_copy]

    return render


def run_cell(settings: SweepSettings, cell: Cell, tracking: TrackingTarget | None = None) -> CellOutcome:
    """Bring one cell up to date. Never raises for a failing cell: the outcome says what went wrong."""
    start = time.perf_counter()
    try:
        if settings.threads:
            import torch

            torch.set_num_threads(settings.threads)
        session = settings.session()
        key, state = cell_state(settings, cell)
        profile = session.profile.name
        set_path = cell.set_path(Path(settings.outputs), profile)
        record_path = cell.record_path(Path(settings.results), profile)
        if state == "up to date" or (state == "distilled" and settings.stage == "distill"):
            return CellOutcome(cell, "up to date", message=state)
        if state == "missing":
            if settings.stage == "evaluate" and not set_path.is_file():
                raise UserError(f"{set_path}: no distilled set to evaluate; run the distill stage first")
            if settings.stage != "evaluate":
                _distill(session, settings, cell, key)
        if settings.stage == "distill":
            return CellOutcome(cell, "done", time.perf_counter() - start)
        record = evaluate_set_file(
            session,
            cell.dataset,
            set_path,
            record_path,
            technique=cell.technique,
            content_key=record_key(key, settings.acceleration),
            acceleration=Acceleration.parse(settings.acceleration),
        )
        run_id = None
        if tracking is not None:
            log = _cell_log(session, cell, key, set_path, record)
            run_id = log_cell(tracking, log, _artefact_hook(session, cell, set_path, record_path))
        test = record["results"]["test_accuracy"]
        return CellOutcome(cell, "done", time.perf_counter() - start, test["mean"], test["std"], run_id=run_id)
    except UserError as exc:
        return CellOutcome(cell, "failed", time.perf_counter() - start, message=str(exc))
    except Exception as exc:  # a worker must report, not vanish: the sweep lists every failure at the end
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return CellOutcome(cell, "failed", time.perf_counter() - start, message=detail)
