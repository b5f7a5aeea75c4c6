"""Adapters without shared data, on small trees written here in each dataset's official layout."""

import csv
from pathlib import Path

import pytest

from bench.data.clips import hash_split
from bench.data.registry import dataset_names, get_dataset, open_dataset
from bench.errors import DataError


def _params(name, **options):
    return {"datasets": {name: {"dir": name, **options}}}


def _groups_disjoint(index):
    owner = {}
    for clip in index.clips:
        assert owner.setdefault(clip.group, clip.split) == clip.split


def test_registry_has_every_required_adapter():
    assert set(dataset_names()) >= {
        "fsdd",
        "esc10",
        "esc50",
        "speechcommands",
        "audiomnist",
        "urbansound8k",
        "gtzan",
        "audiofolder",
        "synthetic",
    }


def _write_esc50(root: Path, write_audio, classes: int):
    rows = []
    for target in range(classes):
        for fold in range(1, 6):
            name = f"{fold}-{1000 + target * 10 + fold}-A-{target}.wav"
            write_audio(root / "audio" / name, freq=200 + 50 * target)
            rows.append(
                {
                    "filename": name,
                    "fold": fold,
                    "target": target,
                    "category": f"cat{target}",
                    "esc10": "True" if target % 2 == 0 else "False",
                    "src_file": 1000 + target * 10 + fold,
                    "take": "A",
                }
            )
    (root / "meta").mkdir(parents=True)
    with open(root / "meta" / "esc50.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_esc10_and_esc50_read_the_esc50_layout(tmp_path, write_audio):
    root = tmp_path / "esc"
    _write_esc50(root, write_audio, classes=4)
    esc50 = open_dataset("esc50", tmp_path, {"datasets": {"esc50": {"dir": "esc"}}}).index()
    esc10 = open_dataset("esc10", tmp_path, {"datasets": {"esc10": {"dir": "esc"}}}).index()
    assert esc50.class_names == ["cat0", "cat1", "cat2", "cat3"]
    assert esc10.class_names == ["cat0", "cat2"]  # the esc10 column selects the subset
    assert {s: sum(n) for s, n in esc50.counts().items()} == {"train": 12, "validation": 4, "test": 4}
    _groups_disjoint(esc50)


def test_audiomnist_split_is_speaker_disjoint(tmp_path, write_audio):
    for speaker in range(1, 21):
        for digit in range(10):
            path = tmp_path / "AudioMNIST" / "data" / f"{speaker:02d}" / f"{digit}_{speaker:02d}_0.wav"
            write_audio(path, seconds=0.05)
    params = {"datasets": {"audiomnist": {"dir": "AudioMNIST", "validation_pct": 20.0, "test_pct": 20.0}}}
    index = open_dataset("audiomnist", tmp_path, params).index()
    _groups_disjoint(index)
    speakers = {s: {c.group for c in index.split(s)} for s in ("train", "validation", "test")}
    assert all(speakers.values())
    assert sum(len(v) for v in speakers.values()) == 20


def _write_urbansound(root: Path, write_audio, folds):
    rows = []
    for fold in folds:
        for class_id in range(2):
            name = f"{100 + fold}-{class_id}-0-0.wav"
            write_audio(root / "audio" / f"fold{fold}" / name, freq=300 + 200 * class_id)
            rows.append(
                {
                    "slice_file_name": name,
                    "fsID": 100 + fold,
                    "start": 0,
                    "end": 0.5,
                    "salience": 1,
                    "fold": fold,
                    "classID": class_id,
                    "class": ["dog_bark", "siren"][class_id],
                }
            )
    rows.append(dict(rows[0], fold=7, slice_file_name="missing-fold.wav"))  # fold not on disk: ignored
    (root / "metadata").mkdir(parents=True)
    with open(root / "metadata" / "UrbanSound8K.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_urbansound8k_works_with_a_subset_of_folds(tmp_path, write_audio):
    _write_urbansound(tmp_path / "UrbanSound8K", write_audio, folds=(1, 2, 3))
    params = {"datasets": {"urbansound8k": {"train_folds": [1], "validation_folds": [2], "test_folds": [3]}}}
    index = open_dataset("urbansound8k", tmp_path, params).index()
    assert index.class_names == ["dog_bark", "siren"]
    assert {s: sum(n) for s, n in index.counts().items()} == {"train": 2, "validation": 2, "test": 2}
    with pytest.raises(DataError, match=r"none of the validation folds \[9\] is under"):
        open_dataset("urbansound8k", tmp_path, {}).index()


def test_gtzan_reads_wav_and_au(tmp_path, write_audio):
    for genre in ("blues", "rock"):
        for i in range(12):
            suffix = ".au" if i % 2 else ".wav"
            write_audio(tmp_path / "gtzan" / "genres" / genre / f"{genre}.{i:05d}{suffix}")
    index = open_dataset("gtzan", tmp_path, _params("gtzan", validation_pct=25.0, test_pct=25.0)).index()
    assert index.class_names == ["blues", "rock"]
    assert any(c.source.suffix == ".au" for c in index.clips)
    wave, _ = get_dataset("gtzan").from_config(tmp_path, {}).read(index.clips[1])
    assert wave.size == 4000


def test_audiofolder_bring_your_own(tmp_path, write_audio):
    for name in ("cat", "dog"):
        for i in range(12):
            write_audio(tmp_path / "mine" / name / f"{name}{i}.flac")
    index = open_dataset(
        "audiofolder",
        tmp_path,
        {"datasets": {"audiofolder": {"dir": "mine", "validation_pct": 25.0, "test_pct": 25.0}}},
    ).index()
    assert index.class_names == ["cat", "dog"] and len(index.clips) == 24


def test_synthetic_is_deterministic_and_class_dependent():
    adapter = get_dataset("synthetic").from_config(None, {})
    index = adapter.index()
    first = [adapter.read(c)[0] for c in index.clips[:3]]
    again = [adapter.read(c)[0] for c in index.clips[:3]]
    assert all((a == b).all() for a, b in zip(first, again, strict=True))
    assert not (first[0] == first[1]).all()


def test_hash_split_is_stable():
    assert hash_split("speaker-a", 10, 10) == hash_split("speaker-a", 10, 10)
    assert {hash_split(f"s{i}", 10, 10) for i in range(200)} == {"train", "validation", "test"}


def test_audiofolder_reads_mp3_and_counts_what_it_passes_over(tmp_path):
    import numpy as np
    import soundfile as sf

    from bench.data.registry import get_dataset

    root = tmp_path / "mine"
    for label in ("low", "high"):
        for n in range(12):
            path = root / label / f"{label}_{n}.mp3"
            path.parent.mkdir(parents=True, exist_ok=True)
            tone = 0.3 * np.sin(2 * np.pi * (200 if label == "low" else 900) * np.arange(4000) / 8000)
            sf.write(str(path), tone.astype(np.float32), 8000, format="MP3")
    (root / "low" / "notes.txt").write_text("not audio")
    (root / "high" / "cover.jpg").write_bytes(b"\xff\xd8")
    adapter = get_dataset("audiofolder").from_config(tmp_path, {"dir": "mine"})
    index = adapter.index()
    assert index.class_names == ["high", "low"] and len(index.clips) == 24
    assert adapter.ignored == {"not audio (.txt)": 1, "not audio (.jpg)": 1}
    wave, rate = adapter.read(index.clips[0])
    assert rate == 8000 and len(wave) >= 4000


def test_a_folder_of_nothing_readable_says_what_it_passed_over(tmp_path):
    import pytest

    from bench.data.registry import get_dataset
    from bench.errors import DataError

    for label in ("a", "b"):
        (tmp_path / "mine" / label).mkdir(parents=True)
        (tmp_path / "mine" / label / "clip.m4a").write_bytes(b"x")
    with pytest.raises(DataError, match=r"audiofolder: no clips found under .*files ignored: 2 not audio \(\.m4a\)"):
        get_dataset("audiofolder").from_config(tmp_path, {"dir": "mine"}).index()
