"""Robustness under acoustic shift, and test-time adaptation (the NTTA document's losses).

Networks are trained on the set exactly as the main protocol trains them (the profile's network and recipe,
this track's seeds); each is then scored on the clean test split and on the test split corrupted by every
corruption and severity of the track's params (:mod:`bench.shift.corruptions`). The main score is the mean
accuracy over the corrupted splits. Test-time adaptation then updates only the normalisation layers'
affine parameters on each unlabelled shifted test split with each loss of :mod:`bench.shift.tta`, episodically
(from the trained weights each time); its steps and learning rate are chosen per loss on the shifted
VALIDATION split, never on test, once per set with the first seed's network (v1 chose again for every seed:
twice the adaptations for the same question), and applied to every seed's network."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.device import device_description, peak_memory_mb, reset_peak_memory
from bench.errors import UserError
from bench.evaluation.protocol import accuracy, train_network
from bench.evaluation.tracks.base import Track, TrackResult
from bench.evaluation.tracks.registry import register_track
from bench.features.store import FeatureSet, LabelledTensors
from bench.params import ProtocolParams
from bench.sets.files import LabelledSet
from bench.shift.corruptions import check_corruptions
from bench.shift.features import shifted_split
from bench.shift.tta import LOSSES, adapt
from bench.typed import ranged

DEFAULT_CORRUPTIONS: dict[str, tuple[float, ...]] = {
    "noise": (20.0, 5.0),
    "background": (20.0, 5.0),
    "gain": (-20.0,),
    "time_shift": (0.5,),
    "lowpass": (1000.0,),
    "telephone": (1.0,),
    "reverb": (0.8,),
    "pitch": (2.0,),
}


@dataclass(frozen=True)
class ShiftParams:
    corruptions: Mapping[str, Sequence[float]] = field(default_factory=lambda: dict(DEFAULT_CORRUPTIONS))
    seeds: tuple[int, ...] | None = None  # None: the protocol's evaluation seeds
    corruption_seed: int = 0
    # Where the background corruption's sounds come from: another dataset under the data root and its classes.
    background: Mapping[str, Any] = field(default_factory=dict)
    tta_losses: tuple[str, ...] = ("entropy", "generalized-entropy", "frobenius-norm", "nuclear-norm")
    q: float = ranged(0.8, gt=0)  # generalized entropy's order (q = 1 is Shannon's and is refused: divide by 0)
    tta_steps: tuple[int, ...] = ranged((1, 3), ge=1)
    tta_lrs: tuple[float, ...] = ranged((0.001, 0.01), gt=0)
    tta_batch: int = ranged(64, ge=1)


def variant_name(name: str, severity: float) -> str:
    return f"{name}@{severity:g}"


def choose_hyperparameters(
    model: nn.Module,
    loss: str,
    validation: Sequence[LabelledTensors],
    candidates: Sequence[tuple[int, float]],
    batch: int,
    q: float,
    device: torch.device,
) -> tuple[tuple[int, float], float]:
    """The (steps, lr) whose adaptation gives the best mean accuracy on the shifted VALIDATION splits (the
    first of equals), and that accuracy. Test data never enters: it is not an argument."""

    def score(steps: int, lr: float) -> float:
        return statistics.fmean(
            accuracy(adapt(model, split.x.to(device), loss, steps, lr, batch, q), split, device) for split in validation
        )

    scored = [(score(*hp), hp) for hp in candidates]
    best = max(scored, key=lambda pair: pair[0])
    return best[1], best[0]


@register_track
class ShiftTrack(Track):
    name = "shift"
    description = "networks trained on the set, scored on corrupted test audio; test-time adaptation per loss"
    protocol_id = "shift-v2"
    Params = ShiftParams
    requires = ("model:profile", "data-root (audio)")
    main_score = "test_accuracy"

    def bind_session(self, session) -> None:
        self.session = session
        check_corruptions(self.params.corruptions, f"tracks.{self.name}.corruptions")
        unknown = sorted(set(self.params.tta_losses) - set(LOSSES))
        if unknown:
            raise UserError(f"tracks.shift.tta_losses: unknown {', '.join(unknown)}; known: {', '.join(LOSSES)}")
        if self.params.q == 1:
            raise UserError("tracks.shift.q: 1 is Shannon entropy (use the entropy loss); choose q != 1")

    def recipe(self) -> ProtocolParams:
        protocol = self.context.protocol
        return dataclasses.replace(protocol, seeds=self.params.seeds) if self.params.seeds else protocol

    def describe(self) -> dict[str, Any]:
        params = {**dataclasses.asdict(self.params), "recipe": dataclasses.asdict(self.recipe())}
        return {"params": params, "model": self.context.model.describe()}

    def code_modules(self) -> list[str]:
        return ["bench.shift.corruptions", "bench.shift.features", "bench.shift.tta"]

    def _backgrounds(self) -> list[Path]:
        spec = dict(self.params.background)
        if "background" not in self.params.corruptions:
            return []
        if not spec.get("dataset"):
            raise UserError("tracks.shift.background: name a dataset (and classes) whose sounds to mix in")
        adapter = self.session.dataset(str(spec["dataset"]))
        index = adapter.index()
        wanted = set(spec.get("classes") or index.class_names)
        unknown = sorted(wanted - set(index.class_names))
        if unknown:
            raise UserError(
                f"tracks.shift.background.classes: {', '.join(unknown)} are not classes of {spec['dataset']}"
            )
        return [c.source for c in index.clips if index.class_names[c.label] in wanted and c.source is not None]

    def _shifted(self, dataset: str, split: str, backgrounds: list[Path]) -> dict[str, LabelledTensors]:
        out = {}
        for corruption, severities in self.params.corruptions.items():
            for severity in severities:
                out[variant_name(corruption, float(severity))] = shifted_split(
                    self.session, dataset, split, corruption, float(severity), self.params.corruption_seed, backgrounds
                )
        return out

    def evaluate(self, labelled: LabelledSet, features: FeatureSet) -> TrackResult:
        device = self.context.device
        reset_peak_memory(device)
        start = time.perf_counter()
        backgrounds = self._backgrounds()
        test = self._shifted(features.dataset, "test", backgrounds)
        validation = list(self._shifted(features.dataset, "validation", backgrounds).values())
        items = self.items(labelled, features)
        recipe = self.recipe()
        candidates = [(s, lr) for s in self.params.tta_steps for lr in self.params.tta_lrs]
        metrics: dict[str, list[float]] = defaultdict(list)
        chosen: dict[str, list[dict[str, Any]]] = defaultdict(list)
        settings: dict[str, tuple[int, float]] = {}  # per loss, chosen once with the first seed's network
        best_loss: tuple[float, str] | None = None
        for seed in recipe.seeds:
            model, _ = train_network(
                items.x.detach(), items.y, features.num_classes, self.context.model, recipe, seed, device, items.lr
            )
            clean = accuracy(model, features.test, device)
            shifted = {name: accuracy(model, split, device) for name, split in test.items()}
            metrics["clean_accuracy"].append(clean)
            for name, value in shifted.items():
                metrics[f"test_accuracy/{name}"].append(value)
            corrupted = statistics.fmean(shifted.values())
            metrics["test_accuracy"].append(corrupted)
            metrics["drop_from_clean"].append(clean - corrupted)
            for loss in self.params.tta_losses:
                if loss not in settings:
                    settings[loss], on_validation = choose_hyperparameters(
                        model, loss, validation, candidates, self.params.tta_batch, self.params.q, device
                    )
                    steps, lr = settings[loss]
                    chosen[loss].append({"steps": steps, "lr": lr, "validation_accuracy": on_validation})
                    if best_loss is None or on_validation > best_loss[0]:
                        best_loss = (on_validation, loss)
                steps, lr = settings[loss]
                adapted = [
                    accuracy(
                        adapt(model, split.x.to(device), loss, steps, lr, self.params.tta_batch, self.params.q),
                        split,
                        device,
                    )
                    for split in test.values()
                ]
                metrics[f"tta/{loss}"].append(statistics.fmean(adapted))
            if best_loss is not None:  # the loss that adapts best on VALIDATION, and its test accuracy
                metrics["tta_best_loss"].append(metrics[f"tta/{best_loss[1]}"][-1])
        if best_loss is not None:
            chosen["best_loss"].append({"loss": best_loss[1]})
        cost = {
            "wall_seconds": time.perf_counter() - start,
            "peak_memory_mb": peak_memory_mb(device),
            "device": device_description(device),
        }
        return TrackResult(list(recipe.seeds), dict(metrics), "test_accuracy", cost, {"tta_chosen": dict(chosen)})
