"""Shared fixtures. Real-data tests read ``$DISTRACK_DATA_ROOT`` and FAIL (never skip) without it."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.allocator import reuse_freed_memory
from bench.params import DATA_ROOT_ENV, load_params
from bench.session import Session
from bench.techniques.registry import reload_plugins

REPO = Path(__file__).resolve().parent.parent
reuse_freed_memory()  # the tests run under the allocator setting distrack runs under (bench/allocator.py)

TINY_PARAMS = """
profile: tiny
datasets:
  synthetic: {num_classes: 4, clips_per_class: 24}
profiles:
  tiny:
    features: {sample_rate: 8000, n_fft: 256, hop_length: 128, n_mels: 16, frames: 16}
    model: {depth: 2, width: 16}
    protocol: {epochs: 30, seeds: [0, 1], batch_size: 64}
"""


@pytest.fixture(scope="session")
def data_root() -> Path:
    value = os.environ.get(DATA_ROOT_ENV)
    if not value or not Path(value).is_dir():
        pytest.fail(f"${DATA_ROOT_ENV} must point at the shared datasets (got {value!r}); real-data tests never skip")
    return Path(value)


@pytest.fixture(scope="session")
def models_root() -> Path:
    value = os.environ.get("DISTRACK_MODELS_ROOT")
    if not value or not (Path(value) / "yamnet" / "yamnet.tflite").is_file():
        pytest.fail(f"$DISTRACK_MODELS_ROOT must point at the shared models (got {value!r}); tests never skip")
    return Path(value)


@pytest.fixture(scope="session")
def repo_params() -> dict:
    return load_params(REPO / "params.yaml")


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One feature cache for the whole session, so each real dataset is extracted once."""
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture
def tiny_params(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(TINY_PARAMS)
    return path


def tone(freq: float, sample_rate: int = 8000, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def write_audio() -> Callable[..., Path]:
    """Write a short tone to ``path`` in the format its suffix names (wav, ogg, flac, au)."""

    def write(path: Path, freq: float = 440.0, sample_rate: int = 8000, seconds: float = 0.5) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), tone(freq, sample_rate, seconds), sample_rate)
        return path

    return write


PLUGIN = '''
    import torch
    from dataclasses import dataclass
    from bench.techniques import DistilledSet, Technique
    from bench.techniques.base import Cost

    @dataclass(frozen=True)
    class ToyParams:
        scale: float = 0.5

    class ToyTechnique(Technique):
        """Class-mean spectrograms, scaled: an external technique."""
        name = "toy"
        description = "A plug-in registered through the entry point"
        Params = ToyParams

        def distill(self, train_set, ipc, seed, budget, device, progress):
            xs = [train_set.train.x[train_set.train.y == c].mean(0, keepdim=True).repeat(ipc, 1, 1, 1)
                  for c in range(train_set.num_classes)]
            y = torch.arange(train_set.num_classes).repeat_interleave(ipc)
            return DistilledSet(self.params.scale * torch.cat(xs), y, self.name, {"scale": self.params.scale},
                                Cost(0.0, 0, 0.0))

    class PeekingTechnique(ToyTechnique):
        """Chooses its items by looking at the test split: what the suite must refuse."""
        name = "peeking"

        def distill(self, train_set, ipc, seed, budget, device, progress):
            train_set.test  # noqa: B018
            return super().distill(train_set, ipc, seed, budget, device, progress)

    @dataclass(frozen=True)
    class SloppyParams:
        pass

    class SloppyTechnique(Technique):
        """What `distrack validate` exists to catch: unseeded noise, one class short."""
        name = "sloppy"
        Params = SloppyParams

        def distill(self, train_set, ipc, seed, budget, device, progress):
            y = torch.arange(train_set.num_classes - 1).repeat_interleave(ipc)
            return DistilledSet(torch.randn(len(y), *train_set.shape), y, self.name, {}, Cost(0.0, 0, 0.0))
'''


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    """A real installed distribution (dist-info with entry_points.txt) on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "toy_distill.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "toy_distill-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-distill\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[distrackted.techniques]\ntoy = toy_distill:ToyTechnique\nsloppy = toy_distill:SloppyTechnique\n"
        "peeking = toy_distill:PeekingTechnique\n"
    )
    monkeypatch.syspath_prepend(str(site))
    reload_plugins()
    yield site
    monkeypatch.undo()
    sys.modules.pop("toy_distill", None)
    reload_plugins()


@pytest.fixture
def make_session(tmp_path: Path) -> Callable[[str], Session]:
    """A CPU session on ``tmp_path`` whose params.yaml holds the given text."""

    def make(params_text: str) -> Session:
        params = tmp_path / "params.yaml"
        params.write_text(params_text)
        return Session(
            params_path=params,
            profile_name=None,
            data_root_option=None,
            cache_dir=tmp_path / "cache",
            device_name="cpu",
            progress=False,
            dataset_dirs={},
        )

    return make
