"""``distrack validate TECHNIQUE``: the battery a contributor runs before opening a pull request.

Everything runs on the built-in ``synthetic`` dataset with a tiny network and a capped iteration budget,
so it takes seconds and needs no data root. Each check reports PASS, FAIL or N/A with a reason."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from bench.errors import UserError
from bench.pipeline.jobs import data_free_inputs, give_teacher
from bench.session import Session
from bench.sets.items import training_items
from bench.techniques import Budget, DistillContext, DistilledSet, Technique, get_technique
from bench.techniques import loop as loop_module
from bench.techniques.data_free import DataFreeTechnique
from bench.techniques.teacher_guided import TeacherGuidedTechnique

PASS, FAIL, NOT_APPLICABLE = "PASS", "FAIL", "N/A"
CLASSES, CLIPS_PER_CLASS, IPC = 4, 12, 2
VALIDATION_PARAMS: dict[str, Any] = {
    "profile": "validate",
    "datasets": {"synthetic": {"num_classes": CLASSES, "clips_per_class": CLIPS_PER_CLASS}},
    "profiles": {
        "validate": {
            "budgets": "quick",
            "features": {"sample_rate": 8000, "n_fft": 256, "hop_length": 128, "n_mels": 16, "frames": 16},
            "model": {"depth": 2, "width": 16},
            "protocol": {"epochs": 5, "seeds": [0], "batch_size": 64},
        }
    },
}


@dataclass
class Check:
    name: str
    status: str
    detail: str


class _Crash(Exception):
    """Raised right after the first checkpoint is written: a kill at the worst possible moment."""


@contextlib.contextmanager
def _crash_after_first_checkpoint() -> Iterator[list[int]]:
    saved: list[int] = []
    original = loop_module.Checkpoint.save

    def save(self: loop_module.Checkpoint, iteration: int, *args: Any, **kwargs: Any) -> None:
        original(self, iteration, *args, **kwargs)
        saved.append(iteration)
        raise _Crash

    loop_module.Checkpoint.save = save  # type: ignore[method-assign]
    try:
        yield saved
    finally:
        loop_module.Checkpoint.save = original  # type: ignore[method-assign]


class Battery:
    def __init__(self, technique: str, overrides: dict[str, Any], iterations: int, workdir: Path) -> None:
        self.technique = technique
        self.overrides = overrides
        self.iterations = iterations
        self.workdir = workdir
        params_path = workdir / "params.yaml"
        params_path.write_text(yaml.safe_dump(VALIDATION_PARAMS))
        self.session = Session(
            params_path=params_path,
            profile_name=None,
            data_root_option=None,
            cache_dir=workdir / "cache",
            device_name="cpu",
            progress=False,
            dataset_dirs={},
        )
        self.checks: list[Check] = []

    def record(self, name: str, ok: bool | None, detail: str) -> bool:
        status = NOT_APPLICABLE if ok is None else PASS if ok else FAIL
        self.checks.append(Check(name, status, detail))
        return bool(ok)

    def build(self, **context: Any) -> Technique:
        cls = get_technique(self.technique)
        params = cls.configure(self.session.profile.budgets, self.overrides)
        model = self.session.profile.model
        method = cls(params, DistillContext(model=model, cache_dir=self.workdir / "cache", **context))
        if isinstance(method, DataFreeTechnique):
            data_free_inputs(self.session, "synthetic", method)  # its teacher, trained once, then from the index
        elif isinstance(method, TeacherGuidedTechnique):
            give_teacher(self.session, self.session.features("synthetic"), method)
        return method

    def distill(self, ipc: int = IPC, **context: Any) -> DistilledSet:
        feats = self.session.features("synthetic")
        return self.build(**context).run(feats, ipc, 0, Budget(self.iterations), self.session.device)

    def attempt(self, name: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except UserError as exc:
            self.record(name, False, f"error: {exc}")
        except Exception as exc:  # a contributor's bug: report it, keep checking the rest
            self.record(name, False, f"crashed: {type(exc).__name__}: {exc}")
        return None

    def run(self) -> list[Check]:
        cls = self.attempt("registered", lambda: get_technique(self.technique))
        if cls is None:
            return self.checks
        self.record("registered", cls.name == self.technique, f"{cls.__module__}.{cls.__qualname__}")
        if not self.check_params(cls):
            return self.checks
        self.check_ipc_error()
        first = self.attempt("distils", self.distill)
        if first is None:
            return self.checks
        self.record("distils", True, f"{first.cost.iterations} iteration(s), {first.cost.wall_seconds:.2f} s")
        method = self.build()
        if isinstance(method, DataFreeTechnique):
            guarded = type(method).run is DataFreeTechnique.run  # the withholding happens there
            self.record(
                "data-free",
                guarded,
                "distilled from its teacher alone: the training and validation splits raise on any read"
                if guarded
                else "overrides DataFreeTechnique.run, which withholds the data: the claim cannot be checked",
            )
        else:
            self.record("test split untouched", True, "distilled from the training and validation splits alone")
        self.check_output(first)
        second = self.attempt("deterministic", self.distill)
        if second is not None:
            same = torch.equal(first.x, second.x) and torch.equal(first.y, second.y) and first.lr == second.lr
            self.record("deterministic", same, "same seed, same set" if same else "two runs with seed 0 differ")
        self.check_resume(first)
        return self.checks

    def check_params(self, cls: type[Technique]) -> bool:
        if not dataclasses.is_dataclass(cls.Params):
            return self.record("parameter schema", False, "Params must be a dataclass")
        try:
            for budgets in ("quick", "standard"):
                params = cls.configure(budgets, self.overrides)
                json.dumps(dataclasses.asdict(params))
        except (UserError, TypeError) as exc:
            return self.record("parameter schema", False, str(exc))
        try:
            cls.configure("quick", {"no_such_parameter__": 1})
        except UserError:
            fields = ", ".join(f.name for f in dataclasses.fields(cls.Params)) or "none"
            return self.record("parameter schema", True, f"typed, JSON-serialisable, unknown keys refused ({fields})")
        return self.record("parameter schema", False, "an unknown parameter was accepted silently")

    def check_ipc_error(self) -> None:
        too_many = CLIPS_PER_CLASS + 1
        if getattr(get_technique(self.technique), "data_free", False):
            self.record("IPC too large", None, "data-free: synthesises any number of items, no real ones to run out of")
            return
        try:
            self.distill(ipc=too_many)
        except UserError as exc:
            self.record("IPC too large", True, f"clear error: {exc}")
            return
        except Exception as exc:
            self.record("IPC too large", False, f"crashed instead of a clear error: {type(exc).__name__}: {exc}")
            return
        self.record("IPC too large", False, f"IPC {too_many} beyond the training examples was accepted")

    def check_output(self, result: DistilledSet) -> None:
        """Stored items per class as asked, and items that train as the dataset's log-mels once the set's form
        (waveforms, a factorised decoder) is undone, as evaluation will undo it."""
        feats = self.session.features("synthetic")
        counts = torch.bincount(result.y.long(), minlength=CLASSES).tolist() if result.y.numel() else []
        try:
            decoded = tuple(training_items(result.to_labelled(), feats.params, feats.mean, feats.std).x.shape[1:])
        except (UserError, RuntimeError, ValueError) as exc:
            decoded = f"undecodable ({exc})"
        form = result.domain + ("" if result.decoder is None else f", decoder {result.decoder['name']}")
        self.record(
            "output shapes and labels",
            decoded == feats.shape and result.x.is_floating_point() and counts == [IPC] * CLASSES,
            f"x {tuple(result.x.shape)} ({form}) trains as {decoded} items (expected {feats.shape}), "
            f"items per class {counts}",
        )
        finite = bool(torch.isfinite(result.x).all()) and (result.lr is None or result.lr > 0)
        self.record("no NaN", finite, "finite values" + ("" if result.lr is None else f", learned lr {result.lr:.4g}"))
        within = result.cost.iterations <= self.iterations and len(result.history) <= self.iterations
        self.record(
            "budget respected",
            within,
            f"{result.cost.iterations} iteration(s), {len(result.history)} loss value(s), budget {self.iterations}",
        )

    def check_resume(self, uninterrupted: DistilledSet) -> None:
        checkpoint = self.workdir / "resume.ckpt"
        with _crash_after_first_checkpoint() as saved, contextlib.suppress(_Crash):
            self.distill(checkpoint_path=checkpoint, checkpoint_every=1)
        if not saved:
            if uninterrupted.cost.iterations == 0:
                self.record("resume", None, "not iterative: nothing to resume")
            else:
                self.record(
                    "resume",
                    False,
                    "no checkpoint was written; iterate through bench.techniques.matching.run_loop so a "
                    "killed run can resume",
                )
            return
        resumed = self.attempt(
            "resume", lambda: self.distill(checkpoint_path=checkpoint, checkpoint_every=1, resume=True)
        )
        if resumed is not None:
            same = torch.equal(resumed.x, uninterrupted.x) and resumed.lr == uninterrupted.lr
            self.record(
                "resume",
                same,
                f"killed after iteration {saved[0]}, resumed: "
                + ("identical to the uninterrupted run" if same else "differs from the uninterrupted run"),
            )


def validate_technique(technique: str, overrides: dict[str, Any], iterations: int) -> list[Check]:
    with tempfile.TemporaryDirectory(prefix="distrack-validate-") as scratch:
        return Battery(technique, overrides, iterations, Path(scratch)).run()
