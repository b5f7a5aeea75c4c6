"""Shifted splits: a dataset's real validation or test clips, each corrupted at one severity before the
suite's front end, normalised with the clean training statistics. Cached content-keyed like clean features
(the clean features' key, the corruption, its severity, the seed, the background clips)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from bench.atomic import atomic_path
from bench.features.logmel import LogMel
from bench.features.store import LabelledTensors
from bench.hashing import sha256_json
from bench.session import Session
from bench.shift.corruptions import CORRUPTIONS, corrupt, corruption_seed

SHIFTED_VERSION = 1


def shifted_split(
    session: Session, dataset: str, split: str, name: str, severity: float, seed: int, backgrounds: Sequence[Path]
) -> LabelledTensors:
    feats = session.features(dataset)
    key = sha256_json(
        {
            "features": feats.cache_key,
            "split": split,
            "corruption": name,
            "severity": severity,
            "seed": seed,
            "backgrounds": sorted(str(p) for p in backgrounds),
            "v": SHIFTED_VERSION,
        }
    )
    path = Path(session.cache_dir) / "shifted" / f"{dataset}-{split}-{name}-{severity}-{key[:16]}.safetensors"
    if path.is_file():
        tensors = load_file(str(path))
        return LabelledTensors(tensors["x"], tensors["y"])
    adapter = session.dataset(dataset)
    skipped = set(feats.skipped)
    clips = [c for c in adapter.index().clips if c.split == split and str(c.source or c.key) not in skipped]
    logmel = LogMel(feats.params)
    transform = CORRUPTIONS[name].build(severity, backgrounds)
    rate = feats.params.sample_rate
    waves = []
    for clip in clips:
        wave = logmel.fix_length(*adapter.read(clip)).numpy()
        shifted = corrupt(transform, wave, rate, corruption_seed(seed, name, severity, clip.key))
        waves.append(torch.from_numpy(np.asarray(shifted[: len(wave)], dtype=np.float32)))
    x = (logmel(torch.stack(waves)) - feats.mean) / feats.std
    y = feats.split(split).y.clone()
    with atomic_path(path) as tmp:
        save_file({"x": x.contiguous(), "y": y.contiguous()}, str(tmp))
    return LabelledTensors(x, y)
