"""Transfer-learning probes: a pretrained (or fixed) embedder and scikit-learn classifiers fitted on a set's
embeddings, scored on the real test split ("Audio transfer learning with scikit-learn", arXiv 1810.10274).

For every classifier (k-NN, logistic regression, linear SVM) the hyperparameter is chosen on the VALIDATION
split; the classifier reported as the main score is the one with the best validation accuracy. A log-mel item
that is a real training clip (a random subset's, a coreset's) is embedded from that clip's audio; any other
log-mel item is rendered to audio by the suite's inverse (InverseMelScale + Griffin-Lim) before a waveform
embedder, and the record counts both. The ``zero-shot`` reference row (no set) is scored by an embedder with a
label space of its own, through the dataset's mapping file."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from bench.device import device_description
from bench.embedders import get_embedder
from bench.embedders.base import Embedder
from bench.embedders.store import embedding_cost, real_embeddings, resample, test_class_scores
from bench.embedders.zero_shot import load_mapping
from bench.errors import UserError
from bench.evaluation.protocol import confusion_matrix
from bench.evaluation.tracks.base import Track, TrackResult
from bench.evaluation.tracks.registry import register_track
from bench.features.logmel import logmel_to_waveform
from bench.features.store import FeatureSet
from bench.sets.files import LabelledSet
from bench.sets.items import training_items
from bench.typed import ranged

CANDIDATES: dict[str, tuple[dict[str, Any], ...]] = {
    "knn": tuple({"n_neighbors": k} for k in (1, 3, 5, 10)),
    "logreg": tuple({"C": c} for c in (0.01, 0.1, 1.0, 10.0)),
    "linear-svm": tuple({"C": c} for c in (0.01, 0.1, 1.0, 10.0)),
}


@dataclass(frozen=True)
class ProbeParams:
    embedder: str = "mfcc"
    classifiers: tuple[str, ...] = ("knn", "logreg", "linear-svm")
    zero_shot: str | None = None  # mapping file name for this dataset's zero-shot row (set per dataset)
    griffin_lim_iterations: int = ranged(32, ge=1)


def classifier_factories() -> dict[str, Callable[[dict[str, Any]], Any]]:
    """One scikit-learn pipeline builder per classifier name. Imported here, not at module import (a second
    and a half of start-up for every track listing), but before any fit: threadpoolctl limits only the thread
    pools of libraries already loaded."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return {
        "knn": lambda options: make_pipeline(StandardScaler(), KNeighborsClassifier(**options)),
        "logreg": lambda options: make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, **options)),
        "linear-svm": lambda options: make_pipeline(
            StandardScaler(), LinearSVC(max_iter=20000, random_state=0, **options)
        ),
    }


def _rows_digest(x: torch.Tensor) -> list[str]:
    return [hashlib.sha256(row.contiguous().numpy().tobytes()).hexdigest() for row in x.detach().cpu().float()]


def embed_set(
    embedder: Embedder, labelled: LabelledSet, features: FeatureSet, real: dict[str, np.ndarray], iterations: int
) -> tuple[np.ndarray, torch.Tensor, dict[str, int]]:
    """The set's items embedded, their labels, and how each item reached the embedder: a log-mel embedder reads
    them directly; a waveform embedder gets a waveform item as it is, a log-mel item that is a real training
    clip as that clip's (cached) embedding, and any other log-mel item through InverseMelScale + Griffin-Lim."""
    items = training_items(labelled, features.params, features.mean, features.std)
    if embedder.domain == "logmel":
        return embedder.embed_logmels(items.x.detach(), features.params), items.y, {"items": len(items.y)}
    rate = int(embedder.sample_rate or features.params.sample_rate)
    if labelled.domain == "waveform":
        waves = [resample(w.numpy(), features.params.sample_rate, rate) for w in labelled.x.detach()]
        return embedder.embed_waveforms(waves), labelled.y, {"items_from_waveforms": len(waves)}
    train_rows = {digest: i for i, digest in enumerate(_rows_digest(features.train.x))}
    rows = [train_rows.get(d) for d in _rows_digest(items.x)]
    inverted = [i for i, row in enumerate(rows) if row is None]
    embedded = np.zeros((len(rows), real["train"].shape[1]))
    for i, row in enumerate(rows):
        if row is not None:
            embedded[i] = real["train"][row]
    if inverted:
        audio = logmel_to_waveform(features.denormalise(items.x.detach()[inverted]), features.params, n_iter=iterations)
        embedded[inverted] = embedder.embed_waveforms(
            [resample(w.numpy(), features.params.sample_rate, rate) for w in audio]
        )
    return (
        embedded,
        items.y,
        {"items_from_real_audio": len(rows) - len(inverted), "items_inverted_griffin_lim": len(inverted)},
    )


class ProbeTrack(Track):
    """One embedder's probe; a registered subclass fixes the embedder (``probe-mfcc``, ``probe-yamnet``)."""

    description = "scikit-learn classifiers on a pretrained embedder's embeddings of the set (validation-chosen)"
    protocol_id = "probe-v2"
    Params = ProbeParams
    requires = ("embedder",)
    default_embedder = "mfcc"

    @classmethod
    def configure(cls, profile, overrides=None):
        return super().configure(profile, {"embedder": cls.default_embedder, **(overrides or {})})

    def bind_session(self, session) -> None:
        """The session supplies the models root, the dataset's audio and the embedding cache."""
        self.session = session
        cls = get_embedder(self.params.embedder)
        self.embedder: Embedder = cls(cls.configure(), session.models_root)
        unknown = sorted(set(self.params.classifiers) - set(CANDIDATES))
        if unknown:
            raise UserError(
                f"tracks.{self.name}.classifiers: unknown {', '.join(unknown)}; known: {', '.join(CANDIDATES)}"
            )

    def protocol(self) -> str:
        return f"probe-{self.params.embedder}-v2"

    def describe(self) -> dict[str, Any]:
        return {"params": dataclasses.asdict(self.params), "model": self.embedder.describe()}

    def code_modules(self) -> list[str]:
        return [type(self.embedder).__module__]

    def model_specs(self):
        return []

    def supports(self, labelled: LabelledSet | None) -> bool:
        return labelled is not None or self.params.zero_shot is not None

    def evaluate(self, labelled: LabelledSet | None, features: FeatureSet) -> TrackResult:
        start = time.perf_counter()
        if labelled is None:
            metrics, extras = self._zero_shot(features)
        else:
            metrics, extras = self._probe(labelled, features)
        cost = {
            "wall_seconds": time.perf_counter() - start,
            "peak_memory_mb": 0.0,
            "device": device_description(torch.device("cpu")),
        }
        return TrackResult([0], metrics, "test_accuracy", cost, extras)

    def _probe(self, labelled: LabelledSet, features: FeatureSet) -> tuple[dict[str, list[float]], dict[str, Any]]:
        real = real_embeddings(self.session, features.dataset, self.embedder)
        x, y, rendering = embed_set(self.embedder, labelled, features, real, self.params.griffin_lim_iterations)
        factories = classifier_factories()
        with threadpool_limits(limits=1):  # BLAS and OpenMP pools: the same fits whatever the core count
            return self.fit_classifiers(factories, x, y.numpy(), real, features, rendering)

    def fit_classifiers(
        self,
        factories: dict[str, Callable[[dict[str, Any]], Any]],
        x: np.ndarray,
        y: np.ndarray,
        real: dict[str, np.ndarray],
        features: FeatureSet,
        rendering: dict[str, int],
    ) -> tuple[dict[str, list[float]], dict[str, Any]]:
        """Every classifier fitted on the set and scored, with whatever thread pools the caller allows: the track
        (:meth:`_probe`) allows one BLAS thread (protocol v2), and benchmarks.probe_threads times both. v1 used the
        machine's default, one per core, and a thread count's summation order moved lbfgs to other optima
        (logistic regression, esc10 random IPC 10, C=0.1: 157 iterations with two threads, 162 with one), so the
        numbers depended on the machine; and numpy's and scipy's two OpenBLAS pools spun against each other, 25x
        slower on two cores (2.4 against 0.1 s a fit)."""
        metrics: dict[str, list[float]] = {}
        best: tuple[float, str, Any] | None = None
        for name in self.params.classifiers:
            chosen = None
            for options in CANDIDATES[name]:
                if options.get("n_neighbors", 0) > len(y):
                    continue
                fitted = factories[name](options).fit(x, y)
                score = float((fitted.predict(real["validation"]) == features.validation.y.numpy()).mean())
                if chosen is None or score > chosen[0]:
                    chosen = (score, options, fitted)
            assert chosen is not None
            predicted = chosen[2].predict(real["test"])
            metrics[f"test_accuracy/{name}"] = [float((predicted == features.test.y.numpy()).mean())]
            metrics[f"validation_accuracy/{name}"] = [chosen[0]]
            if best is None or chosen[0] > best[0]:
                best = (chosen[0], name, (chosen[1], predicted))
        assert best is not None
        _, name, (options, predicted) = best
        metrics["test_accuracy"] = metrics[f"test_accuracy/{name}"]
        metrics["validation_accuracy"] = [best[0]]
        truth = features.test.y
        confusion = confusion_matrix(torch.as_tensor(predicted), truth, features.num_classes)
        extras = {"confusion": confusion, "chosen": {"classifier": name, **options}, "rendering": rendering}
        return metrics, {**extras, "embedding_cost": embedding_cost(self.session, features.dataset, self.embedder)}

    def _zero_shot(self, features: FeatureSet) -> tuple[dict[str, list[float]], dict[str, Any]]:
        assert self.params.zero_shot is not None
        mapping = load_mapping(self.params.zero_shot, features.class_names, self.embedder.label_names())
        scores = test_class_scores(self.session, features.dataset, self.embedder)
        per_class = np.stack([scores[:, mapping[c]].max(axis=1) for c in features.class_names], axis=1)
        predicted = torch.as_tensor(per_class.argmax(axis=1))
        accuracy = float((predicted == features.test.y).float().mean())
        confusion = confusion_matrix(predicted, features.test.y, features.num_classes)
        return {"test_accuracy": [accuracy]}, {"confusion": confusion, "chosen": {"zero_shot": self.params.zero_shot}}


@register_track
class MFCCProbe(ProbeTrack):
    name = "probe-mfcc"
    description = "scikit-learn classifiers on MFCC statistics of the set's log-mels (no weights)"
    default_embedder = "mfcc"


@register_track
class YAMNetProbe(ProbeTrack):
    name = "probe-yamnet"
    description = "scikit-learn classifiers on YAMNet embeddings of the set (items rendered to audio)"
    default_embedder = "yamnet"
