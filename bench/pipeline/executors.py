"""Where cells run: in this process, in a local process pool, or as submitit jobs (its local executor for
tests and single machines, Slurm job arrays for clusters). Outputs are per-cell files at fixed paths, so
results from several machines merge by copying folders, deterministically."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from bench.errors import UserError
from bench.pipeline.grid import GridCell
from bench.pipeline.runner import CellOutcome, SweepSettings, forget_sweep_sessions, run_cell
from bench.pipeline.tracking import TrackingTarget

EXECUTORS = ("local", "submitit-local", "slurm")
Report = Callable[[CellOutcome], None]


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    gpus_per_job: int = 0
    cpus_per_job: int = 4
    mem_gb: int = 16
    timeout_min: int = 240
    folder: str = "outputs/submitit"


class CellJob:
    """A submitit job: one cell. On preemption or timeout submitit calls :meth:`checkpoint`, which requeues
    the same cell; the re-run resumes from the distillation checkpoint beside the set."""

    def __init__(self, settings: SweepSettings, tracking: TrackingTarget | None) -> None:
        self.settings = settings
        self.tracking = tracking

    def __call__(self, cell: GridCell) -> CellOutcome:
        return run_cell(self.settings, cell, self.tracking)

    def checkpoint(self, cell: GridCell):
        import submitit

        return submitit.helpers.DelayedSubmission(self, cell)


def _threads_per_worker(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // jobs)


def run_cells(
    settings: SweepSettings,
    cells: Sequence[GridCell],
    tracking: TrackingTarget | None,
    executor: str,
    jobs: int,
    report: Report,
    slurm: SlurmOptions | None = None,
) -> list[CellOutcome]:
    if executor not in EXECUTORS:
        raise UserError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {jobs}")
    if executor == "local":
        return _run_local(settings, cells, tracking, jobs, report)
    return _run_submitit(settings, cells, tracking, executor, jobs, report, slurm or SlurmOptions())


def _run_local(
    settings: SweepSettings, cells: Sequence[GridCell], tracking: TrackingTarget | None, jobs: int, report: Report
) -> list[CellOutcome]:
    outcomes = []
    if jobs == 1:
        try:
            for cell in cells:
                outcomes.append(run_cell(settings, cell, tracking))
                report(outcomes[-1])
        finally:
            forget_sweep_sessions()
        return outcomes
    worker_settings = _with_threads(settings, _threads_per_worker(jobs))
    # spawn, not fork: torch's thread pools and MLflow's connections do not survive a fork safely.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(run_cell, worker_settings, cell, tracking) for cell in cells]
        try:
            for future in as_completed(futures):
                outcomes.append(future.result())
                report(outcomes[-1])
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return sorted(outcomes, key=lambda o: o.cell.sort_key())


def _with_threads(settings: SweepSettings, threads: int) -> SweepSettings:
    import dataclasses

    return settings if settings.threads else dataclasses.replace(settings, threads=threads, progress=False)


def _run_submitit(
    settings: SweepSettings,
    cells: Sequence[GridCell],
    tracking: TrackingTarget | None,
    executor: str,
    jobs: int,
    report: Report,
    slurm: SlurmOptions,
) -> list[CellOutcome]:
    try:
        import submitit
    except ImportError as exc:
        raise UserError("submitit is not installed; install it or use --executor local") from exc
    folder = Path(slurm.folder) / "%j"
    if executor == "submitit-local":
        runner = submitit.LocalExecutor(folder=folder)
        runner.update_parameters(timeout_min=slurm.timeout_min)
        worker_settings = _with_threads(settings, _threads_per_worker(jobs))
    else:
        runner = submitit.AutoExecutor(folder=folder, cluster="slurm")
        parameters = {
            "timeout_min": slurm.timeout_min,
            "slurm_array_parallelism": jobs,
            "cpus_per_task": slurm.cpus_per_job,
            "mem_gb": slurm.mem_gb,
            "gpus_per_node": slurm.gpus_per_job,
            "slurm_additional_parameters": {"requeue": True},
        }
        if slurm.partition:
            parameters["slurm_partition"] = slurm.partition
        runner.update_parameters(**parameters)
        worker_settings = _with_threads(settings, slurm.cpus_per_job)
    job = CellJob(worker_settings, tracking)
    outcomes = []
    for start in range(0, len(cells), jobs if executor == "submitit-local" else len(cells) or 1):
        # The local executor has no array parallelism limit, so it is fed ``jobs`` cells at a time.
        batch = list(cells[start : start + (jobs if executor == "submitit-local" else len(cells))])
        submitted = runner.map_array(job, batch)
        for cell, handle in zip(batch, submitted, strict=True):
            try:
                outcome = handle.result()
            except Exception as exc:  # the job itself died (killed, out of memory, node failure)
                outcome = CellOutcome(cell, "failed", message=f"job {handle.job_id}: {exc}")
            outcomes.append(outcome)
            report(outcome)
    return outcomes
