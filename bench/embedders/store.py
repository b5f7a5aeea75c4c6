"""Embeddings of a dataset's real splits, cached on disk keyed by the features' content key and the embedder's
description, so every probe of every set reuses them. Waveform embedders read each clip's audio (the clips
of the feature set, in its order, without the files it skipped) resampled to their rate."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torchaudio
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from bench.atomic import atomic_path
from bench.data.clips import SPLITS
from bench.embedders.base import Embedder
from bench.errors import DataError
from bench.hashing import sha256_json
from bench.session import Session

EMBEDDINGS_VERSION = 1


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return np.asarray(wave, dtype=np.float32)
    return torchaudio.functional.resample(torch.from_numpy(np.asarray(wave, dtype=np.float32)), rate, target).numpy()


def split_waveforms(session: Session, dataset: str, split: str, target_rate: int) -> list[np.ndarray]:
    """The audio behind the feature set's ``split``, clip for clip, at ``target_rate``."""
    feats = session.features(dataset)
    adapter = session.dataset(dataset)
    skipped = set(feats.skipped)
    clips = [c for c in adapter.index().clips if c.split == split and str(c.source or c.key) not in skipped]
    if len(clips) != len(feats.split(split)):
        raise DataError(f"{dataset}: {len(clips)} {split} clips on disk but {len(feats.split(split))} in its features")
    return [resample(*adapter.read(clip), target_rate) for clip in clips]


def embedding_cost(session: Session, dataset: str, embedder: Embedder) -> dict[str, float]:
    """What embedding the real splits cost when it was computed (read back from the cache): seconds, clips and
    clips per second, like every cost the suite records."""
    real_embeddings(session, dataset, embedder)
    path = _path(session, dataset, embedder, "embeddings")
    with safe_open(str(path), framework="numpy") as handle:
        meta = handle.metadata() or {}
    seconds, clips = float(meta.get("seconds", "nan")), int(meta.get("clips", "0"))
    return {"seconds": seconds, "clips": clips, "clips_per_second": clips / seconds if seconds > 0 else float("nan")}


def _path(session: Session, dataset: str, embedder: Embedder, what: str) -> Path:
    feats = session.features(dataset)
    key = sha256_json(
        {"features": feats.cache_key, "embedder": embedder.describe(), "what": what, "v": EMBEDDINGS_VERSION}
    )
    return Path(session.cache_dir) / "embeddings" / f"{dataset}-{embedder.name}-{what}-{key[:16]}.safetensors"


def _cached(session: Session, dataset: str, embedder: Embedder, what: str, compute) -> dict[str, np.ndarray]:
    path = _path(session, dataset, embedder, what)
    if path.is_file():
        return load_file(str(path))
    start = time.perf_counter()
    arrays = compute()
    cost = {"seconds": repr(time.perf_counter() - start), "clips": str(sum(len(v) for v in arrays.values()))}
    with atomic_path(path) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp), metadata=cost)
    return arrays


def real_embeddings(session: Session, dataset: str, embedder: Embedder) -> dict[str, np.ndarray]:
    """``{split: (n, d) embeddings}`` of the real train, validation and test clips."""

    def compute() -> dict[str, np.ndarray]:
        feats = session.features(dataset)
        if embedder.domain == "logmel":
            return {s: embedder.embed_logmels(feats.split(s).x, feats.params) for s in SPLITS}
        rate = int(embedder.sample_rate or feats.params.sample_rate)
        return {s: embedder.embed_waveforms(split_waveforms(session, dataset, s, rate)) for s in SPLITS}

    return _cached(session, dataset, embedder, "embeddings", compute)


def test_class_scores(session: Session, dataset: str, embedder: Embedder) -> np.ndarray:
    """The embedder's own class scores for every real test clip (zero-shot rows)."""
    rate = int(embedder.sample_rate or session.features(dataset).params.sample_rate)
    arrays = _cached(
        session,
        dataset,
        embedder,
        "test-scores",
        lambda: {"test": embedder.class_scores(split_waveforms(session, dataset, "test", rate))},
    )
    return arrays["test"]
