"""The resampling notice audiomentations prints for every background sound is silenced where commands and
cells start; its other notices (a background clip skipped as too silent) still reach the user."""

import warnings

import numpy as np
import soundfile as sf
from audiomentations import AddBackgroundNoise
from audiomentations.core.audio_loading_utils import load_sound_file

from bench.library_notices import silence_expected_notices


def _notices(work) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:  # restores the filters on exit
        warnings.simplefilter("always")
        work()
    return [str(w.message) for w in caught]


def _background_at_44k(tmp_path, amplitude: float):
    path = tmp_path / f"background-{amplitude}.wav"
    sf.write(path, amplitude * np.sin(np.linspace(0, 2000, 44_100)).astype(np.float32), 44_100)
    return path


def test_the_resampling_notice_is_shown_by_default_and_silenced_after_the_call(tmp_path):
    path = _background_at_44k(tmp_path, 0.5)
    assert any("had to be resampled" in m for m in _notices(lambda: load_sound_file(path, sample_rate=8000)))

    def silenced_then_loaded():
        silence_expected_notices()
        load_sound_file(path, sample_rate=8000)

    assert _notices(silenced_then_loaded) == []


def test_a_background_skipped_as_too_silent_is_still_reported(tmp_path):
    silent = _background_at_44k(tmp_path, 0.0)
    clip = np.sin(np.linspace(0, 500, 8000)).astype(np.float32)

    def corrupted():
        silence_expected_notices()
        AddBackgroundNoise(sounds_path=[silent], min_snr_db=5.0, max_snr_db=5.0, p=1.0)(clip, sample_rate=8000)

    notices = _notices(corrupted)
    assert any("too silent" in m for m in notices)
    assert not any("had to be resampled" in m for m in notices)
