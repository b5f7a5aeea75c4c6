"""Corruptions of real audio, applied to the waveform before feature extraction, each at named severities.

Built on audiomentations (a well-kept augmentation library) with every parameter pinned to the severity
(min = max), so the only randomness left (noise samples, which background clip and where) comes from a seed
derived from the clip, the corruption and the severity: the same shifted split every time."""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import UserError
from bench.typed import did_you_mean

Transform = Callable[[np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class Corruption:
    """``build(severity, backgrounds)`` -> a waveform transform; severities must lie in [low, high] (unit)."""

    name: str
    unit: str
    low: float
    high: float
    build: Callable[[float, Sequence[Path]], Transform]
    description: str


def _noise(snr: float, _: Sequence[Path]) -> Transform:
    from audiomentations import AddGaussianSNR

    return AddGaussianSNR(min_snr_db=snr, max_snr_db=snr, p=1.0)


def _background(snr: float, backgrounds: Sequence[Path]) -> Transform:
    from audiomentations import AddBackgroundNoise

    if not backgrounds:
        raise UserError("corruption background: no background clips (set tracks.shift.background for this dataset)")
    return AddBackgroundNoise(sounds_path=list(backgrounds), min_snr_db=snr, max_snr_db=snr, p=1.0)


def _gain(decibels: float, _: Sequence[Path]) -> Transform:
    from audiomentations import Gain

    return Gain(min_gain_db=decibels, max_gain_db=decibels, p=1.0)


def _shift(fraction: float, _: Sequence[Path]) -> Transform:
    from audiomentations import Shift

    return Shift(
        min_shift=fraction, max_shift=fraction, shift_unit="fraction", rollover=False, fade_duration=0.0, p=1.0
    )


def _lowpass(cutoff: float, _: Sequence[Path]) -> Transform:
    from audiomentations import LowPassFilter

    return LowPassFilter(min_cutoff_freq=cutoff, max_cutoff_freq=cutoff, min_rolloff=24, max_rolloff=24, p=1.0)


def _telephone(_: float, __: Sequence[Path]) -> Transform:
    from audiomentations import Compose, HighPassFilter, LowPassFilter

    return Compose(
        [
            HighPassFilter(min_cutoff_freq=300.0, max_cutoff_freq=300.0, min_rolloff=24, max_rolloff=24, p=1.0),
            LowPassFilter(min_cutoff_freq=3400.0, max_cutoff_freq=3400.0, min_rolloff=24, max_rolloff=24, p=1.0),
        ]
    )


def _reverb(rt60: float, _: Sequence[Path]) -> Transform:
    """A synthetic room: exponentially decaying white noise whose energy falls 60 dB in ``rt60`` seconds,
    convolved with the clip (scipy), the dry level kept."""
    from scipy.signal import fftconvolve

    def apply(wave: np.ndarray, sample_rate: int) -> np.ndarray:
        n = max(1, int(rt60 * sample_rate))
        t = np.arange(n) / sample_rate
        generator = np.random.default_rng(int(rt60 * 1000))
        response = generator.standard_normal(n) * np.exp(-6.9078 * t / rt60)
        response[0] = 1.0
        response /= np.sqrt(np.sum(response**2))
        wet = fftconvolve(wave, response)[: len(wave)]
        return (wet * (np.sqrt(np.mean(wave**2)) / (np.sqrt(np.mean(wet**2)) + 1e-12))).astype(np.float32)

    return apply


def _pitch(semitones: float, _: Sequence[Path]) -> Transform:
    from audiomentations import PitchShift

    return PitchShift(min_semitones=semitones, max_semitones=semitones, method="librosa_phase_vocoder", p=1.0)


CORRUPTIONS: dict[str, Corruption] = {
    c.name: c
    for c in (
        Corruption("noise", "SNR dB", -10, 60, _noise, "additive white noise at an SNR"),
        Corruption("background", "SNR dB", -10, 60, _background, "a real background sound from another dataset"),
        Corruption("gain", "dB", -40, 40, _gain, "a gain change"),
        Corruption("time_shift", "fraction", 0, 0.9, _shift, "the clip starts later (silence before it)"),
        Corruption("lowpass", "cutoff Hz", 100, 16000, _lowpass, "a low-pass filter (muffled)"),
        Corruption("telephone", "level", 1, 1, _telephone, "the 300-3400 Hz telephone band"),
        Corruption("reverb", "RT60 s", 0.05, 3.0, _reverb, "a synthetic room impulse response"),
        Corruption("pitch", "semitones", -12, 12, _pitch, "a pitch shift (phase vocoder)"),
    )
}


def check_corruptions(table: Mapping[str, Sequence[float]], where: str) -> None:
    """Unknown names and severities out of range are one-line errors naming the parameter."""
    for name, severities in table.items():
        if name not in CORRUPTIONS:
            hint = did_you_mean(name, CORRUPTIONS)
            raise UserError(f"{where}: unknown corruption {name!r}{hint}; known: {', '.join(CORRUPTIONS)}")
        spec = CORRUPTIONS[name]
        if not isinstance(severities, Sequence) or not severities:
            raise UserError(f"{where}.{name}: expected a list of severities ({spec.unit})")
        for severity in severities:
            if (
                isinstance(severity, bool)
                or not isinstance(severity, int | float)
                or not spec.low <= severity <= spec.high
            ):
                raise UserError(
                    f"{where}.{name}: severity {severity!r} is out of range [{spec.low}, {spec.high}] ({spec.unit})"
                )


def corruption_seed(seed: int, name: str, severity: float, key: str) -> int:
    digest = hashlib.sha256(f"{seed}/{name}/{severity}/{key}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


@contextlib.contextmanager
def seeded(value: int) -> Iterator[None]:
    """audiomentations draws from the global ``random`` and ``numpy.random``: seed both, then restore them."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    random.seed(value)
    np.random.seed(value)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def corrupt(transform: Transform, wave: np.ndarray, sample_rate: int, seed: int) -> np.ndarray:
    with seeded(seed):
        out = (
            transform(samples=wave.astype(np.float32), sample_rate=sample_rate)
            if _is_audiomentation(transform)
            else transform(wave, sample_rate)
        )
    return np.nan_to_num(np.asarray(out, dtype=np.float32))


def _is_audiomentation(transform: Transform) -> bool:
    return type(transform).__module__.startswith("audiomentations")
