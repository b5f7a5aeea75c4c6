"""MLflow tracking of sweeps: one parent run per sweep, one nested run per cell.

Embedded by default (``sqlite:///mlflow.db`` with artefacts under ``./mlartifacts``, both set explicitly);
``MLFLOW_TRACKING_URI`` selects a server. Only the thread-safe ``MlflowClient`` API is used (no global
"active run"), and every call retries on SQLite's "database is locked", so several worker processes can log
at once. The experiment and the parent run are created before fan-out, so workers never race to create
the database schema."""

from __future__ import annotations

import contextlib
import functools
import os
import random
import re
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench.errors import UserError
from bench.provenance import git_commit

URI_ENV = "MLFLOW_TRACKING_URI"
DEFAULT_URI = "sqlite:///mlflow.db"
DEFAULT_ARTIFACTS = "mlartifacts"
SWEEP_TAG = "distrack.sweep"
PROBE_SECONDS = 5.0  # an HTTP tracking server must answer its health check this fast
STORE_LOCK_SECONDS = 600.0  # the longest wait for another process to finish creating the SQLite store
T = TypeVar("T")


def tracking_uri() -> str:
    return os.environ.get(URI_ENV) or DEFAULT_URI


def _transient(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(mark in text for mark in ("database is locked", "database is busy", "connection", "timed out", "503"))


def retrying(call: Callable[..., T], *args: Any, attempts: int = 10, **kwargs: Any) -> T:
    """Run an MLflow call, backing off on lock contention and brief server unavailability."""
    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            if attempt == attempts - 1 or not _transient(exc):
                raise
            time.sleep(min(5.0, 0.1 * 2**attempt) * (0.5 + random.random()))  # jitter, not a result draw
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class TrackingTarget:
    """What a worker needs to log a cell run under the sweep's parent run (picklable)."""

    uri: str
    experiment_id: str
    parent_run_id: str


def _client(uri: str):
    return _process_client(uri, os.getpid())


@functools.lru_cache(maxsize=4)
def _process_client(uri: str, pid: int):
    """One client per URI and process (building one costs ~0.3 s on SQLite); keyed by pid so that a forked
    worker never shares its parent's database connections."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _is_local(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:", "/")) or "://" not in uri


def _store_lock(uri: str):
    """An embedded SQLite store is created (schema migrations and all) by whichever process opens it first;
    two at once left it half-migrated. A lock file beside the database serialises opening it."""
    from filelock import FileLock

    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return contextlib.nullcontext()
    database = Path(uri[len(prefix) :])
    database.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(f"{database}.lock", timeout=STORE_LOCK_SECONDS)


def check_reachable(uri: str, timeout: float = PROBE_SECONDS) -> None:
    """An HTTP tracking server must answer its health check within ``timeout`` seconds; otherwise the sweep
    fails at once instead of hanging in the client's retries."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # it answered: the server is there
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(
            f"MLflow tracking server {uri} is unreachable ({reason}); start it, fix MLFLOW_TRACKING_URI, "
            "or pass --no-tracking"
        ) from None


def open_sweep(
    experiment: str, sweep: str, params: Mapping[str, Any], tags: Mapping[str, str], uri: str | None = None
) -> TrackingTarget:
    """Create the experiment if needed and find (by the ``distrack.sweep`` tag) or create the parent run."""
    uri = uri or tracking_uri()
    check_reachable(uri)
    with _store_lock(uri):
        return _open_sweep(experiment, sweep, params, tags, uri)


def _open_sweep(
    experiment: str, sweep: str, params: Mapping[str, Any], tags: Mapping[str, str], uri: str
) -> TrackingTarget:
    try:
        client = _client(uri)
        found = retrying(client.get_experiment_by_name, experiment)
        if found is None:
            location = Path(DEFAULT_ARTIFACTS).resolve().as_uri() if _is_local(uri) else None
            experiment_id = retrying(client.create_experiment, experiment, artifact_location=location)
        else:
            experiment_id = found.experiment_id
        existing = retrying(
            client.search_runs, [experiment_id], filter_string=f"tags.`{SWEEP_TAG}` = '{sweep}'", max_results=1
        )
        if existing:
            parent = existing[0].info.run_id
            retrying(client.update_run, parent, status="RUNNING")
        else:
            run = retrying(client.create_run, experiment_id, tags={SWEEP_TAG: sweep, **tags}, run_name=sweep)
            parent = run.info.run_id
            retrying(client.log_batch, parent, params=_params(params))
    except ImportError as exc:
        raise UserError("MLflow is not installed; install it or pass --no-tracking") from exc
    except Exception as exc:
        if isinstance(exc, UserError):
            raise
        raise UserError(
            f"MLflow tracking at {uri} failed ({exc}); check MLFLOW_TRACKING_URI or pass --no-tracking"
        ) from exc
    return TrackingTarget(uri, experiment_id, parent)


def close_sweep(target: TrackingTarget, status: str) -> None:
    retrying(_client(target.uri).set_terminated, target.parent_run_id, status)


# MLflow accepts metric and param names of these characters only (its portable set: Windows refuses ':').
_MLFLOW_NAME_CHARACTER = re.compile(r"[^/\w.\- ]")


def mlflow_names(names: Iterable[str]) -> dict[str, str]:
    """Each name as MLflow will take it: ``@`` (the shift track's ``<corruption>@<severity>``) spelled ``_at_``,
    any other character MLflow refuses spelled ``_``. Two names that would meet are an error, never a merge."""
    mapped: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name in names:
        safe = _MLFLOW_NAME_CHARACTER.sub("_", name.replace("@", "_at_"))
        if seen.setdefault(safe, name) != name:
            raise UserError(f"MLflow names: {seen[safe]!r} and {name!r} would both be logged as {safe!r}")
        mapped[name] = safe
    return mapped


def _params(values: Mapping[str, Any]):
    from mlflow.entities import Param

    names = mlflow_names(values)
    return [Param(names[key], str(value)[:6000]) for key, value in sorted(values.items())]


@dataclass
class CellLog:
    """Everything one cell reports: params, tags, metric series, final metrics and artefact files."""

    name: str
    params: dict[str, Any]
    tags: dict[str, str]
    series: dict[str, list[float] | list[tuple[int, float]]]  # metric -> value per step, or (step, value)
    final: dict[str, float]
    artefacts: list[Path]


def cell_log(
    profile: str, cell: Any, key: str, record: Mapping[str, Any], sidecar: Mapping[str, Any] | None
) -> CellLog:
    """A cell's MLflow run, derived from its record: every track's metrics (``<track>/<metric>``: one step per
    evaluation seed, then ``_mean``/``_std``), the distillation loss and validation curves, costs."""
    series: dict[str, list[float] | list[tuple[int, float]]] = {}
    final: dict[str, float] = {}
    for track, entry in record["results"].items():
        for metric, values in entry["metrics"].items():
            series[f"{track}/{metric}"] = values["per_seed"]
            final[f"{track}/{metric}_mean"] = values["mean"]
            final[f"{track}/{metric}_std"] = values["std"]
        final[f"{track}/evaluation_seconds"] = entry["cost"]["wall_seconds"]
    params: dict[str, Any] = {**cell.describe(), "profile": profile}
    if sidecar is not None:
        series["distill_loss"] = sidecar.get("loss_history", [])
        series["distill_validation_accuracy"] = [tuple(pair) for pair in sidecar.get("validation_history", [])]
        final["distill_seconds"] = sidecar["cost"]["wall_seconds"]
        final["distill_peak_memory_mb"] = sidecar["cost"]["peak_memory_mb"]
        params.update(sidecar.get("params", {}))
    return CellLog(
        name=f"{cell.dataset}/{cell.slug}",
        params=params,
        tags={
            "technique": cell.technique,
            "kind": cell.kind,
            "dataset": cell.dataset,
            "ipc": str(cell.ipc),
            "seed": str(cell.seed),
            "profile": profile,
            "git_commit": git_commit() or "unknown",
            "dataset_hash": record["dataset"]["data_hash"],
            "content_key": key,
            "tracks": ",".join(sorted(record["results"])),
        },
        series=series,
        final=final,
        artefacts=[],
    )


def log_cell(target: TrackingTarget, log: CellLog, artefact_hook: Callable[[Path], list[Path]] | None = None) -> str:
    """One nested run under the sweep's parent; returns its run id."""
    client = _client(target.uri)
    tags = {"mlflow.parentRunId": target.parent_run_id, **log.tags}
    run = retrying(client.create_run, target.experiment_id, tags=tags, run_name=log.name)
    run_id = run.info.run_id
    try:
        _log_run(client, run_id, log, artefact_hook)
    except BaseException:
        # A run that could not be logged whole says so, rather than staying RUNNING for ever.
        with contextlib.suppress(Exception):
            client.set_terminated(run_id, "FAILED")
        raise
    retrying(client.set_terminated, run_id, "FINISHED")
    return run_id


def _log_run(client: Any, run_id: str, log: CellLog, artefact_hook: Callable[[Path], list[Path]] | None) -> None:
    from mlflow.entities import Metric

    names = mlflow_names([*log.series, *log.final])
    now = int(time.time() * 1000)
    metrics = [
        Metric(names[name], float(v[1]), now, int(v[0]))
        if isinstance(v, tuple)
        else Metric(names[name], float(v), now, step)
        for name, values in log.series.items()
        for step, v in enumerate(values)
    ]
    metrics += [Metric(names[name], float(v), now, 0) for name, v in log.final.items()]
    retrying(client.log_batch, run_id, params=_params(log.params))
    for start in range(0, len(metrics), 1000):  # MLflow's batch limit
        retrying(client.log_batch, run_id, metrics=metrics[start : start + 1000])
    artefacts = list(log.artefacts)
    with tempfile.TemporaryDirectory(prefix="distrack-artefacts-") as scratch:
        if artefact_hook is not None:
            artefacts += artefact_hook(Path(scratch))
        for path in artefacts:
            if path.is_dir():
                retrying(client.log_artifacts, run_id, str(path), path.name)
            else:
                retrying(client.log_artifact, run_id, str(path))


def count_cell_runs(target: TrackingTarget) -> int:
    """Nested runs under the sweep's parent (tests and the closing summary use it)."""
    client = _client(target.uri)
    runs = retrying(
        client.search_runs,
        [target.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{target.parent_run_id}'",
        max_results=10_000,
    )
    return len(runs)
