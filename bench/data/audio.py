"""Reading audio files with soundfile, turning every failure into an error that names the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from bench.errors import DataError

AUDIO_EXTENSIONS = (".wav", ".ogg", ".flac", ".au", ".aiff", ".aif")


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Return a mono float32 waveform and its sample rate, or raise :class:`DataError`."""
    try:
        info = sf.info(str(path))
        data, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read audio ({exc})") from exc
    if data.shape[0] == 0:
        raise DataError(f"{path}: audio file holds no samples (empty or truncated)")
    if info.frames > 0 and data.shape[0] < info.frames:
        raise DataError(f"{path}: truncated audio ({data.shape[0]} of {info.frames} frames readable)")
    mono = data.mean(axis=1)
    if not np.isfinite(mono).all():
        raise DataError(f"{path}: audio contains NaN or infinite samples")
    return mono, int(sample_rate)
