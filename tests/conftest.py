"""Shared fixtures. Real-data tests read ``$DISTRACK_DATA_ROOT`` and FAIL (never skip) without it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.params import DATA_ROOT_ENV, load_params

REPO = Path(__file__).resolve().parent.parent

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
