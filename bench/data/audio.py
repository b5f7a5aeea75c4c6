"""Reading audio files with soundfile, turning every failure into an error that names the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from bench.errors import DataError

AUDIO_EXTENSIONS = (".wav", ".ogg", ".flac", ".mp3", ".au", ".aiff", ".aif")  # libsndfile >= 1.1 reads mp3


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Return a mono float32 waveform and its sample rate, or raise :class:`DataError`."""
    try:
        info = sf.info(str(path))
        data, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read audio ({exc})") from exc
    if data.shape[0] == 0:
        raise DataError(f"{path}: audio file holds no samples (empty or truncated)")
    if info.format == "WAV":
        _check_wav_complete(path)
    mono = data.mean(axis=1)
    if not np.isfinite(mono).all():
        raise DataError(f"{path}: audio contains NaN or infinite samples")
    return mono, int(sample_rate)


def _check_wav_complete(path: Path) -> None:
    """libsndfile silently reads what is left of a cut-off WAV; compare the ``data`` chunk's declared
    size with the bytes actually on disk instead."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        header = handle.read(12)
        if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return  # RF64 / other containers: trust libsndfile
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            chunk_id, chunk_size = handle.read(4), int.from_bytes(handle.read(4), "little")
            if chunk_id == b"data":
                available = size - offset - 8
                if chunk_size != 0xFFFFFFFF and available < chunk_size:
                    raise DataError(f"{path}: truncated WAV ({available} of {chunk_size} data bytes present)")
                return
            offset += 8 + chunk_size + (chunk_size & 1)
