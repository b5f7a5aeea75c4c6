"""Log-mel extraction and its content-keyed cache."""

import dataclasses

import pytest
import torch

from bench.data.registry import get_dataset, open_dataset
from bench.features.logmel import LogMel, logmel_to_waveform
from bench.features.store import load_feature_set
from bench.params import FeatureParams, load_profile
from tests.test_bad_input import FEATURES, make_fsdd


def _synthetic():
    return get_dataset("synthetic").from_config(None, {})


def test_fixed_shape_and_train_only_normalisation():
    features = load_feature_set(_synthetic(), FEATURES, None)
    assert features.shape == (1, 16, 16)
    assert abs(float(features.train.x.mean())) < 1e-4
    assert abs(float(features.train.x.std()) - 1) < 1e-3
    # statistics come from train alone, so the other splits are not exactly standardised
    assert features.split_sizes() == {"train": 64, "validation": 16, "test": 16}


def test_pad_and_crop_to_the_fixed_duration():
    logmel = LogMel(FEATURES)
    assert logmel.fix_length(torch.ones(100).numpy(), 8000).shape == (FEATURES.num_samples,)
    assert logmel.fix_length(torch.ones(50_000).numpy(), 8000).shape == (FEATURES.num_samples,)
    resampled = logmel.fix_length(torch.ones(16_000).numpy(), 16000)  # 1 s at 16 kHz -> 8 kHz
    assert resampled.shape == (FEATURES.num_samples,)


def test_cache_hit_then_invalidation_by_parameter_and_by_file(tmp_path, write_audio):
    make_fsdd(tmp_path / "data", write_audio)
    cache = tmp_path / "cache"
    adapter = open_dataset("fsdd", tmp_path / "data", {})
    first = load_feature_set(adapter, FEATURES, cache)
    assert not first.from_cache
    files = sorted((cache / "features").iterdir())
    assert len(files) == 1 and files[0].suffix == ".safetensors"  # no temporary file left behind
    second = load_feature_set(adapter, FEATURES, cache)
    assert second.from_cache and second.cache_key == first.cache_key
    assert torch.equal(second.train.x, first.train.x)

    changed_params = load_feature_set(adapter, dataclasses.replace(FEATURES, n_mels=20), cache)
    assert not changed_params.from_cache and changed_params.shape == (1, 20, 16)

    write_audio(tmp_path / "data" / "fsdd" / "recordings" / "5_alice_11.wav", freq=999.0, seconds=0.2)
    changed_file = load_feature_set(adapter, FEATURES, cache)
    assert not changed_file.from_cache and changed_file.data_hash != first.data_hash


def test_corrupt_cache_entry_is_rebuilt(tmp_path, capsys):
    cache = tmp_path / "cache"
    first = load_feature_set(_synthetic(), FEATURES, cache)
    (entry,) = (cache / "features").iterdir()
    entry.write_bytes(b"garbage")
    again = load_feature_set(_synthetic(), FEATURES, cache)
    assert not again.from_cache and torch.equal(again.train.x, first.train.x)
    assert "ignoring unreadable feature cache" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["fsdd", "esc10", "speechcommands"])
def test_real_datasets_give_quick_profile_features(data_root, repo_params, feature_cache, name):
    profile = load_profile(repo_params, "quick")
    features = load_feature_set(open_dataset(name, data_root, repo_params), profile.features_for(name), feature_cache)
    assert features.shape == (1, 32, 32)
    assert features.num_classes == 10
    assert torch.isfinite(features.train.x).all()


def test_inverse_gives_a_listenable_waveform():
    features = load_feature_set(_synthetic(), FEATURES, None)
    wave = logmel_to_waveform(features.denormalise(features.train.x[:2]), FEATURES, n_iter=8)
    assert wave.shape == (2, FEATURES.num_samples)
    assert float(wave.abs().max()) == pytest.approx(0.9, abs=1e-3)  # peak-normalised, not silent


def test_num_samples_gives_exactly_the_frame_count():
    params = FeatureParams(sample_rate=8000, n_fft=512, hop_length=256, n_mels=32, frames=32)
    logmel = LogMel(params)
    assert logmel(torch.zeros(1, params.num_samples)).shape == (1, 1, 32, 32)


def test_threaded_extraction_equals_sequential(tmp_path, write_audio):
    make_fsdd(tmp_path, write_audio)
    adapter = open_dataset("fsdd", tmp_path, {})
    resampled = dataclasses.replace(FEATURES, sample_rate=FEATURES.sample_rate // 2)  # exercises resampling too
    for params in (FEATURES, resampled):
        one = load_feature_set(adapter, params, None, workers=1)
        four = load_feature_set(adapter, params, None, workers=4)
        assert one.data_hash == four.data_hash
        for split in ("train", "validation", "test"):
            assert torch.equal(one.split(split).x, four.split(split).x)
            assert torch.equal(one.split(split).y, four.split(split).y)


def test_the_stat_index_skips_unchanged_files_and_catches_a_changed_byte(tmp_path):
    """Issue #22: a warm load must not re-read unchanged audio, and a changed byte must never be served the old
    digest, not even when the writer keeps the size and restores the modification time."""
    import hashlib
    import os

    from bench.hashing import digest_index, sha256_file

    clip, index_file = tmp_path / "clip.wav", tmp_path / "index.json"
    clip.write_bytes(b"RIFF" + bytes(1000))
    with digest_index(index_file) as index:
        first = sha256_file(clip)
    assert (index.hits, index.misses) == (0, 1)
    with digest_index(index_file) as index:
        assert sha256_file(clip) == first
    assert (index.hits, index.misses) == (1, 0)  # answered from the saved index, the file unread

    stat = clip.stat()
    clip.write_bytes(b"RIFF" + bytes(999) + b"\x01")  # same size
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the old modification time, restored
    with digest_index(index_file) as index:
        changed = sha256_file(clip)
    assert changed != first and changed == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert index.misses == 1
    index_file.write_text("{not json")  # a damaged index is started afresh
    with digest_index(index_file) as index:
        assert sha256_file(clip) == changed
    assert index.misses == 1


def test_the_stat_index_keeps_no_digest_of_a_file_written_while_it_was_read(tmp_path, monkeypatch):
    """A digest is stored only under a signature it belongs to: a write that lands while the file is being read
    leaves the index without an entry for it, and the next load reads it again and stores the new digest."""
    import hashlib

    import bench.hashing as hashing

    clip, index_file = tmp_path / "clip.wav", tmp_path / "index.json"
    clip.write_bytes(b"RIFF" + bytes(1000))
    read = hashing._read_sha256

    def read_then_write(path, chunk):  # a writer racing the read: the bytes change before the read ends
        value = read(path, chunk)
        with open(path, "ab") as handle:
            handle.write(b"more")
        return value

    monkeypatch.setattr(hashing, "_read_sha256", read_then_write)
    with hashing.digest_index(index_file) as index:
        hashing.sha256_file(clip)
    assert index.entries == {} and not index_file.exists()
    monkeypatch.setattr(hashing, "_read_sha256", read)
    with hashing.digest_index(index_file) as index:
        assert hashing.sha256_file(clip) == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert index.misses == 1 and list(index.entries) == [str(clip)]


def test_a_warm_feature_load_reads_no_audio_and_an_edited_file_is_extracted_again(
    tmp_path, write_audio, tiny_params, monkeypatch
):
    """Through the CLI, which opens the stat index in the cache folder for every command (sweep cells too)."""
    from click.testing import CliRunner

    import bench.hashing as hashing
    from bench.cli import cli

    make_fsdd(tmp_path / "data", write_audio)
    reads: list[str] = []
    real_read = hashing._read_sha256
    monkeypatch.setattr(hashing, "_read_sha256", lambda path, chunk: reads.append(str(path)) or real_read(path, chunk))
    base = ["--params", str(tiny_params), "--data-root", str(tmp_path / "data"), "--cache-dir", str(tmp_path / "c")]

    def load() -> str:
        reads.clear()
        result = CliRunner().invoke(cli, [*base, "-q", "features", "fsdd"])
        assert result.exit_code == 0, result.output
        return result.output

    assert "extracted" in load() and len(reads) == len(set(reads)) == 120  # each clip read once to hash it
    assert "cache hit" in load() and reads == []
    write_audio(tmp_path / "data" / "fsdd" / "recordings" / "5_alice_11.wav", freq=999.0, seconds=0.2)
    assert "extracted" in load() and len(reads) == 1
