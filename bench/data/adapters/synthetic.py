"""Procedurally generated class-dependent sounds for tests: tiny, deterministic, no files needed.

Class ``c`` is a tone, a chirp or a noise band (``c % 3``) around a class-specific frequency; each clip
jitters frequency, phase, onset and level from a seed derived from the dataset seed and the clip id."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from bench.data.clips import Clip, ClipIndex
from bench.data.registry import DatasetAdapter, DatasetInfo, register_dataset


@dataclass(frozen=True)
class SyntheticOptions:
    num_classes: int = 4
    clips_per_class: int = 24
    sample_rate: int = 8000
    duration_s: float = 1.0
    seed: int = 0


@register_dataset
class Synthetic(DatasetAdapter):
    info = DatasetInfo(
        name="synthetic",
        description="Generated tones, chirps and noise bands (tests only)",
        default_dir=None,
    )
    Options = SyntheticOptions

    def scan(self) -> ClipIndex:
        opts: SyntheticOptions = self.options
        clips = []
        for label in range(opts.num_classes):
            for i in range(opts.clips_per_class):
                split = "test" if i % 6 == 0 else "validation" if i % 6 == 1 else "train"
                key = f"c{label}-{i:04d}"
                clips.append(Clip(key=key, label=label, group=key, split=split))
        names = [f"{('tone', 'chirp', 'noise')[c % 3]}-{c}" for c in range(opts.num_classes)]
        return ClipIndex("synthetic", names, clips)

    def read(self, clip: Clip) -> tuple[np.ndarray, int]:
        opts: SyntheticOptions = self.options
        digest = hashlib.sha256(f"{opts.seed}:{clip.key}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        sr = opts.sample_rate
        n = round(opts.duration_s * sr)
        t = np.arange(n) / sr
        nyquist = sr / 2
        base = nyquist * (0.08 + 0.8 * (clip.label + 0.5) / max(opts.num_classes, 1)) * 0.9
        freq = base * rng.uniform(0.95, 1.05)
        kind = clip.label % 3
        if kind == 0:
            wave = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
        elif kind == 1:
            sweep = freq * (0.6 + 0.8 * t / opts.duration_s)
            wave = np.sin(2 * np.pi * np.cumsum(sweep) / sr)
        else:
            spectrum = np.fft.rfft(rng.standard_normal(n))
            bins = np.fft.rfftfreq(n, 1 / sr)
            spectrum[np.abs(bins - freq) > 0.1 * freq] = 0
            wave = np.fft.irfft(spectrum, n)
            wave /= np.abs(wave).max() + 1e-9
        onset = int(rng.integers(0, n // 8))
        envelope = np.zeros(n)
        envelope[onset:] = 1.0
        wave = rng.uniform(0.3, 0.9) * wave * envelope + 0.01 * rng.standard_normal(n)
        return wave.astype(np.float32), sr
