"""Running one cell of a sweep, resumably: skip what is already done for the same content keys, distil with
checkpoints, evaluate only the tracks whose results are missing or stale, log to MLflow. Everything a worker
needs travels in picklable :class:`SweepSettings`, so the same function runs in-process, in a process pool,
or as a Slurm job."""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.evaluation.acceleration import Acceleration
from bench.evaluation.records import load_json, main_summary
from bench.evaluation.tracks.base import Track
from bench.evaluation.tracks.configure import build_track
from bench.hashing import DIGEST_INDEX, digest_index, sha256_file
from bench.library_notices import silence_expected_notices
from bench.pipeline.grid import GridCell
from bench.pipeline.jobs import (
    describe_set,
    describe_setless,
    distill_to_file,
    evaluate_to_record,
    load_set_for,
    read_sidecar,
)
from bench.pipeline.keys import set_key, track_key
from bench.pipeline.preflight import check_track_inputs
from bench.pipeline.tracking import TrackingTarget, cell_log, log_cell
from bench.session import Session
from bench.sets.files import LabelledSet, load_set, tensor_digest
from bench.sets.references import REFERENCES
from bench.typed import did_you_mean

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
    tracks: tuple[str, ...] = ("convnet", "nearest-mean")
    models_root: str | None = None
    dataset_dirs: dict[str, str] = field(default_factory=dict)
    stage: str = "all"
    checkpoint_every: int = 10
    validation_checks: int = 4  # periodic validation accuracy during distillation (0: none)
    acceleration: str = ""  # opt-in evaluation speed-ups (bench.evaluation.acceleration), comma-separated
    threads: int | None = None  # torch threads per worker (None: torch's default)
    progress: bool = False
    # track -> the IPC values at which it scores sets (a track not named here scores every IPC). Results a
    # track holds at other IPC values are kept while their key is current, never recomputed.
    track_ipc: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def scores(self, track: str, ipc: int | None) -> bool:
        """Whether ``track`` scores a cell at ``ipc`` (a row without IPC, such as ``full``, always)."""
        wanted = self.track_ipc.get(track)
        return ipc is None or wanted is None or ipc in wanted

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
            models_root=str(session.models_root_option) if session.models_root_option else None,
            **options,
        )

    def session(self) -> Session:
        """A new session; :func:`sweep_session` shares one among the cells of a sweep."""
        return Session(
            params_path=Path(self.params_path),
            profile_name=self.profile,
            data_root_option=Path(self.data_root) if self.data_root else None,
            cache_dir=Path(self.cache_dir),
            device_name=self.device,
            progress=self.progress,
            dataset_dirs=dict(self.dataset_dirs),
            models_root_option=Path(self.models_root) if self.models_root else None,
        )


_SWEEP_SESSIONS: dict[str, Session] = {}
_SESSION_FIELDS = (
    "params_path",
    "profile",
    "data_root",
    "cache_dir",
    "device",
    "progress",
    "dataset_dirs",
    "models_root",
)


def sweep_session(settings: SweepSettings) -> Session:
    """One session per process and setting while a sweep runs, so its cells share one load of each dataset's
    features (the audio is read and hashed once, not once per cell: issue #22). Keyed by the params file's
    bytes too, so an edited file gets a fresh session; :func:`forget_sweep_sessions` ends the sharing."""
    fields = {name: getattr(settings, name) for name in _SESSION_FIELDS}
    params = Path(settings.params_path)
    fields["params_sha256"] = sha256_file(params) if params.is_file() else None
    key = json.dumps(fields, sort_keys=True, default=str)
    if key not in _SWEEP_SESSIONS:
        _SWEEP_SESSIONS[key] = settings.session()
    return _SWEEP_SESSIONS[key]


def forget_sweep_sessions() -> None:
    """Drop the shared sessions (the end of an in-process sweep): the next sweep loads the data afresh, so an
    edited audio file is never served from a session's memory."""
    _SWEEP_SESSIONS.clear()


@dataclass
class CellOutcome:
    cell: GridCell
    status: str  # "done", "up to date" or "failed"
    seconds: float = 0.0
    test_mean: float | None = None
    test_std: float | None = None
    message: str = ""
    run_id: str | None = None


@dataclass
class CellState:
    """Where a cell stands: its set key, its tracks with their keys, which of them need evaluating, and
    whether its set (for a technique) is already distilled under the same key."""

    set_key: str
    tracks: list[Track]
    track_keys: dict[str, str]
    stale: list[Track]
    earlier: dict[str, dict[str, Any]]  # the same set's results kept as they are (current, or of other tracks)
    set_ready: bool
    problem: str = ""
    record_items: str | None = None  # the set the earlier results belong to: its tensors' sha256 (or file's)

    @property
    def label(self) -> str:
        if self.problem:
            return self.problem
        if not self.stale:
            return "up to date"
        if self.earlier:
            return f"stale: {', '.join(t.name for t in self.stale)}"
        return "distilled" if self.set_ready else "missing"


def parse_track_ipc(values: tuple[str, ...], known: list[str]) -> dict[str, tuple[int, ...]]:
    """``--track-ipc shift=10`` (repeatable; ``shift=1+10`` for several values) as track -> IPC values. A
    track the grid does not run is allowed (one dvc.yaml serves every grid); an unknown one is a typo."""
    chosen: dict[str, tuple[int, ...]] = {}
    for value in values:
        name, sep, wanted = value.partition("=")
        if not sep or not name or not wanted:
            raise UserError(f"--track-ipc: expected TRACK=IPC[+IPC], got {value!r}")
        if name not in known:
            raise UserError(f"--track-ipc: unknown track {name!r}{did_you_mean(name, known)}")
        try:
            ipcs = tuple(int(v) for v in wanted.split("+"))
        except ValueError:
            raise UserError(f"--track-ipc: {name}: IPC values must be integers, got {wanted!r}") from None
        if any(ipc < 1 for ipc in ipcs):
            raise UserError(f"--track-ipc: {name}: IPC values must be at least 1, got {wanted!r}")
        chosen[name] = tuple(sorted(set(chosen.get(name, ()) + ipcs)))
    return chosen


def _tracks(session: Session, settings: SweepSettings, dataset: str) -> list[Track]:
    acceleration = Acceleration.parse(settings.acceleration)
    return [build_track(session, name, dataset=dataset, acceleration=acceleration) for name in settings.tracks]


def preflight(settings: SweepSettings, cells: list[GridCell]) -> None:
    """Every track that will score one of ``cells`` has its other inputs checked
    (:mod:`bench.pipeline.preflight`) before the sweep distils or scores anything."""
    session = sweep_session(settings)
    for dataset in sorted({cell.dataset for cell in cells}):
        ipcs = {cell.ipc for cell in cells if cell.dataset == dataset}
        for track in _tracks(session, settings, dataset):
            if any(settings.scores(track.name, ipc) for ipc in ipcs):
                check_track_inputs(track, session)


def _set_ready(path: Path, key: str) -> bool:
    sidecar = read_sidecar(path)
    return path.is_file() and sidecar is not None and sidecar.get("content_key") == key


def is_records_set(path: Path, evaluated: dict[str, Any]) -> bool:
    """Whether the set file at ``path`` is the set a record names: the same bytes, or the same tensors
    distilled again under the record's current key. A set file embeds the key it was made under, so after
    ``distrack records rekey`` moved a record to a new key definition, a set re-derived by today's code (``distrack
    reproduce --restore-sets``) has other bytes than the file the record's ``sha256`` names, and the same items."""
    if sha256_file(path) == evaluated["sha256"]:
        return True
    sidecar, tensors = read_sidecar(path), evaluated.get("tensor_sha256")
    if tensors is None or sidecar is None or sidecar.get("content_key") != evaluated.get("content_key"):
        return False
    try:
        return tensor_digest(load_set(path)) == tensors
    except UserError:
        return False


def cell_state(session: Session, settings: SweepSettings, cell: GridCell) -> CellState:
    key = set_key(session, cell)
    tracks = _tracks(session, settings, cell.dataset)
    if cell.kind == "reference" and not getattr(REFERENCES.get(cell.technique), "has_set", True):
        tracks = [track for track in tracks if track.supports(None)]  # a row with no set: only these score it
        if not tracks:
            return CellState(key, [], {}, [], {}, False, "not applicable")
    keys = {track.name: track_key(key, track) for track in tracks}
    profile = session.profile.name
    set_path = cell.set_path(Path(settings.outputs), profile)
    set_ready = cell.kind == "technique" and _set_ready(set_path, key)
    earlier: dict[str, dict[str, Any]] = {}
    problem, record_items = "", None
    try:
        record = load_json(cell.record_path(Path(settings.results), profile))
    except UserError:
        record = None
    if record is not None and record.get("schema_version") == 2 and record["evaluated_set"]["content_key"] == key:
        # A record names its set (bytes, or tensors under its key): a set file changed or cut short since is never
        # "up to date".
        if cell.kind == "technique" and set_path.is_file() and not is_records_set(set_path, record["evaluated_set"]):
            problem, set_ready = "set file differs from its record", False
        else:
            # a result is kept while its key is current, and so is one of a track this grid does not run: it is
            # the same set's, and the grid that runs that track checks its key (a grid of one track must not
            # wipe the record's other results)
            earlier = {
                name: entry
                for name, entry in record["results"].items()
                if name not in keys or entry.get("key") == keys[name]
            }
            record_items = record["evaluated_set"].get("tensor_sha256") or record["evaluated_set"]["sha256"]
    scored = [track for track in tracks if settings.scores(track.name, cell.ipc)]
    stale = [track for track in scored if track.name not in earlier]
    if problem:
        stale, earlier = scored, {}
    return CellState(key, scored, keys, stale, earlier, set_ready, problem, record_items)


def _distill(session: Session, settings: SweepSettings, cell: GridCell, key: str) -> Path:
    set_path = cell.set_path(Path(settings.outputs), session.profile.name)
    checkpoint = set_path.with_name(f"{set_path.name}.{key[:12]}.ckpt")
    for stale in set_path.parent.glob(f"{set_path.name}.*.ckpt"):
        if stale != checkpoint:
            stale.unlink()  # a checkpoint of older code or params can never be resumed
    assert cell.ipc is not None
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
        features_key=session.features(cell.dataset).cache_key,
    )
    return set_path


def _evaluand(session: Session, cell: GridCell, set_path: Path, key: str) -> tuple[LabelledSet | None, dict]:
    """The set to score (None for a reference row without one) and its ``evaluated_set`` description."""
    if cell.kind == "reference":
        reference = REFERENCES.get(cell.technique)()
        labelled = reference.materialise(session.features(cell.dataset), cell.ipc, cell.seed)
        source = f"reference:{cell.technique}" + (f":seed={cell.seed}" if cell.ipc is not None else "")
        if labelled is None:
            return None, describe_setless(cell.technique, source, key)
        described = describe_set(
            labelled,
            kind="reference",
            technique=cell.technique,
            source=source,
            content_key=key,
            per_ipc=reference.per_ipc,
        )
        return labelled, described
    labelled = load_set_for(session, cell.dataset, set_path)
    return labelled, describe_set(
        labelled,
        kind="technique",
        technique=cell.technique,
        digest=sha256_file(set_path),
        source=str(set_path),
        content_key=key,
        sidecar=read_sidecar(set_path),
    )


def _artefact_hook(session: Session, cell: GridCell, labelled: LabelledSet, record_path: Path):
    """MLflow artefacts of a cell: a spectrogram grid, one Griffin-Lim WAV per class, the record."""

    def render(scratch: Path) -> list[Path]:
        from bench.samples import write_spectrogram_grid, write_wavs

        feats = session.features(cell.dataset)
        png = write_spectrogram_grid(feats, labelled, scratch / "spectrograms.png", f"{cell.dataset} {cell.slug}")
        samples = scratch / "samples"
        write_wavs(feats, labelled, samples, per_class=1, iterations=32)
        record_copy = scratch / "record.json"
        record_copy.write_bytes(record_path.read_bytes())
        return [png, samples, record_copy]

    return render


def make_stage_folders(settings: SweepSettings, cells: list[GridCell]) -> None:
    """Each selected dataset's set folder (distilling stages) and record folder (evaluating stages): a DVC stage
    runs one dataset and declares these folders as its outputs, which must exist even when no cell writes a
    file into them (a grid of reference rows only distils nothing)."""
    profile = str(settings.profile)
    for dataset in sorted({cell.dataset for cell in cells}):
        if settings.stage != "evaluate":
            Path(settings.outputs, "sets", profile, dataset).mkdir(parents=True, exist_ok=True)
        if settings.stage != "distill":
            Path(settings.results, profile, dataset).mkdir(parents=True, exist_ok=True)


def cell_lock(settings: SweepSettings, cell: GridCell, profile: str):
    """One lock file per cell (under the outputs folder, never the committed results): a second sweep over the
    same cells waits for a cell another process holds, then finds it up to date, so no cell is computed
    twice. (A lock on a network filesystem is only as good as that filesystem's locking.)"""
    from filelock import FileLock

    path = Path(settings.outputs) / "locks" / profile / cell.dataset / f"{cell.slug}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path))


def run_cell(settings: SweepSettings, cell: GridCell, tracking: TrackingTarget | None = None) -> CellOutcome:
    """Bring one cell up to date. Never raises for a failing cell: the outcome says what went wrong."""
    start = time.perf_counter()
    silence_expected_notices()  # a spawned worker or a Slurm job does not inherit the command's filters
    try:
        if settings.threads:
            import torch

            torch.set_num_threads(settings.threads)
        session = sweep_session(settings)
        with (
            cell_lock(settings, cell, session.profile.name),
            digest_index(Path(settings.cache_dir) / DIGEST_INDEX),  # a warm feature load reads no audio
        ):
            return _run_locked(settings, session, cell, tracking, start)
    except UserError as exc:
        return CellOutcome(cell, "failed", time.perf_counter() - start, message=str(exc))
    except Exception as exc:  # a worker must report, not vanish: the sweep lists every failure at the end
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return CellOutcome(cell, "failed", time.perf_counter() - start, message=detail)


def _run_locked(
    settings: SweepSettings, session: Session, cell: GridCell, tracking: TrackingTarget | None, start: float
) -> CellOutcome:
    """:func:`run_cell`'s work, with the cell's lock held: its state is read only once no other process can
    be computing it."""
    state = cell_state(session, settings, cell)
    profile = session.profile.name
    set_path = cell.set_path(Path(settings.outputs), profile)
    record_path = cell.record_path(Path(settings.results), profile)
    if not state.tracks:  # a reference row no track of the grid scores on this dataset (zero-shot, no mapping)
        record_path.parent.mkdir(parents=True, exist_ok=True)  # the row's folder, left empty (see make_stage_folders)
        return CellOutcome(cell, "up to date", message=state.label)
    if not state.stale or (settings.stage == "distill" and (state.set_ready or cell.kind == "reference")):
        return CellOutcome(cell, "up to date", message=state.label)
    if cell.kind == "technique" and not state.set_ready:
        if settings.stage == "evaluate":
            raise UserError(f"{set_path}: no distilled set for this cell's key; run the distill stage first")
        _distill(session, settings, cell, state.set_key)
    if settings.stage == "distill":
        return CellOutcome(cell, "done", time.perf_counter() - start)
    labelled, evaluated = _evaluand(session, cell, set_path, state.set_key)
    same_items = state.record_items in (evaluated.get("tensor_sha256"), evaluated["sha256"])
    earlier = state.earlier if same_items else {}
    tracks = state.stale if earlier else state.tracks  # other results belong to another set: redo them all
    record = evaluate_to_record(
        session,
        cell.dataset,
        labelled,
        record_path,
        tracks,
        evaluated,
        keys=state.track_keys,
        earlier=earlier,
    )
    run_id = None
    if tracking is not None:
        sidecar = read_sidecar(set_path) if cell.kind == "technique" else None
        log = cell_log(session.profile.name, cell, state.set_key, record, sidecar)
        if sidecar is not None:
            log.artefacts = [set_path, set_path.with_suffix(".json")]
        hook = _artefact_hook(session, cell, labelled, record_path) if labelled is not None else None
        run_id = log_cell(tracking, log, hook)
    main = main_summary(record, state.tracks[0].name) or {}
    return CellOutcome(cell, "done", time.perf_counter() - start, main.get("mean"), main.get("std"), run_id=run_id)
