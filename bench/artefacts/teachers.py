"""Teachers: a network of the model registry trained on a dataset's whole real training split with the profile's
recipe, its learning rate chosen on the VALIDATION split. One per (features, architecture, recipe, seed),
stored in the artefact store and reused by every track and technique that asks for it (the ``kd`` track's
soft labels, data-free inversion)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.artefacts.store import ArtefactStore
from bench.evaluation.protocol import accuracy, train_network
from bench.features.store import FeatureSet
from bench.models import ModelSpec
from bench.models.base import Network
from bench.params import ProtocolParams
from bench.typed import ranged


@dataclass(frozen=True)
class TeacherParams:
    # A model spec (`distrack models`); a ConvNet entry starts from the profile's ConvNet.
    model: Mapping[str, Any] = field(default_factory=lambda: {"architecture": "convnet", "norm": "batchnorm"})
    epochs: int | None = ranged(None, ge=1)  # None: the profile's recipe
    lrs: tuple[float, ...] = ranged((0.01, 0.05), gt=0)  # candidates, chosen on validation
    seed: int = 0


@dataclass
class Teacher:
    network: Network
    spec: ModelSpec
    description: dict[str, Any]
    built: bool  # trained in this call (False: loaded from the store)

    @property
    def test_accuracy(self) -> float:
        return float(self.description["test_accuracy"])

    @torch.no_grad()
    def logits(self, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        self.network.eval()
        return torch.cat([self.network(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def teacher_spec(params: TeacherParams, profile_model: ModelSpec) -> ModelSpec:
    return ModelSpec.parse(params.model, "tracks: teacher.model", base=profile_model)


def _code_digest(spec: ModelSpec) -> str:
    """The syntax trees of this module, the recipe's training code and the network family's module."""
    from bench.models.registry import MODELS
    from bench.provenance import source_digest

    return source_digest(__name__, MODELS.get(spec.architecture).__module__)


def get_teacher(
    features: FeatureSet,
    params: TeacherParams,
    profile_model: ModelSpec,
    protocol: ProtocolParams,
    device: torch.device,
    cache_dir: Path,
) -> Teacher:
    """The stored teacher for these inputs, trained now if there is none."""
    spec = teacher_spec(params, profile_model)
    recipe = dataclasses.replace(protocol, epochs=params.epochs or protocol.epochs)
    shape, classes = features.shape, features.num_classes
    identity = {
        "features": features.cache_key,
        "model": spec.describe(),
        "recipe": dataclasses.asdict(recipe),
        "lrs": list(params.lrs),
        "seed": params.seed,
        "torch": torch.__version__,
        # a CPU sums in another order with other thread counts: a teacher trained with 1 thread is another one
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "code": _code_digest(spec),
    }

    def build() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        start = time.perf_counter()
        tried: dict[str, float] = {}
        best: tuple[float, float, Network] | None = None
        for lr in params.lrs:
            network, _ = train_network(
                features.train.x, features.train.y, classes, spec, recipe, params.seed, device, lr
            )
            score = tried[str(lr)] = accuracy(network, features.validation, device)
            if best is None or score > best[0]:
                best = (score, lr, network)
        assert best is not None
        validation, lr, network = best
        described = {
            "dataset": features.dataset,
            "lr": lr,
            "validation_accuracy": validation,
            "validation_accuracy_per_lr": tried,
            "test_accuracy": accuracy(network, features.test, device),
            "train_seconds": time.perf_counter() - start,
        }
        return dict(network.state_dict()), described

    artefact = ArtefactStore(cache_dir / "artefacts").get_or_build("teacher", identity, build)
    network = spec.build(shape, classes, params.seed).to(device)
    network.load_state_dict({k: v.to(device) for k, v in artefact.tensors.items()})
    network.eval()
    return Teacher(network, spec, artefact.description, artefact.built)
