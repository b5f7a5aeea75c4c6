"""Adapters without shared data, on small trees written here in each dataset's official layout."""

import csv
import json
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
        "philharmonia",
        "vocalsound",
        "cochlscene",
        "fma_small",
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


# --- official layouts of datasets these machines cannot download (issue 20), written here file by file ---


def _write_vocalsound(root: Path, write_audio, speakers: dict[str, list[str]]) -> None:
    labels = ["cough", "laughter", "sigh", "sneeze", "sniff", "throatclearing"]
    root.mkdir(parents=True)
    with open(root / "class_labels_indices_vs.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "mid", "display_name"])
        for index, label in enumerate(["Laughter", "Sigh", "Cough", "Throat clearing", "Sneeze", "Sniff"]):
            writer.writerow([index, f"/m/{index}", label])
    (root / "meta").mkdir()
    for split_file, ids in speakers.items():
        entries = [[speaker, "Female", "30", "Canada", "English", "no"] for speaker in ids]
        (root / "meta" / split_file).write_text(json.dumps(entries))
        for speaker in ids:
            for label in labels:
                write_audio(root / "audio_16k" / f"{speaker}_0_{label}.wav", freq=200 + 60 * labels.index(label))


VOCAL_SPEAKERS = {"tr_meta.json": ["f0001", "m0002", "f0003"], "val_meta.json": ["m0004"], "te_meta.json": ["f0005"]}


def test_vocalsound_uses_the_releases_speaker_split(tmp_path, write_audio):
    _write_vocalsound(tmp_path / "vocalsound", write_audio, VOCAL_SPEAKERS)
    write_audio(tmp_path / "vocalsound" / "audio_16k" / "f0099_0_cough.wav")  # a speaker no split lists
    adapter = open_dataset("vocalsound", tmp_path, _params("vocalsound"))
    index = adapter.index()
    assert index.class_names == ["laughter", "sigh", "cough", "throatclearing", "sneeze", "sniff"]
    assert {s: sum(n) for s, n in index.counts().items()} == {"train": 18, "validation": 6, "test": 6}
    assert {c.group for c in index.split("test")} == {"f0005"}
    assert adapter.ignored == {"speaker in no split of meta/": 1}
    _groups_disjoint(index)


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda root: (root / "meta" / "te_meta.json").unlink(), r"missing .*te_meta.json"),
        (lambda root: (root / "audio_16k" / "f0001_0_yawn.wav").write_bytes(b""), r"unknown class 'yawn'"),
        (
            lambda root: (root / "meta" / "te_meta.json").write_text(json.dumps([["f0001", "Female"]])),
            r"speaker f0001 is also in the train split",
        ),
    ],
    ids=["missing-metadata", "unknown-class", "speaker-in-two-splits"],
)
def test_a_malformed_vocalsound_tree_is_one_clear_error(tmp_path, write_audio, break_it, message):
    _write_vocalsound(tmp_path / "vocalsound", write_audio, VOCAL_SPEAKERS)
    break_it(tmp_path / "vocalsound")
    with pytest.raises(DataError, match=message):
        open_dataset("vocalsound", tmp_path, _params("vocalsound")).index()


def _write_cochlscene(root: Path, write_audio, scenes=("Bus", "Cafe", "Street")) -> None:
    for folder, count in (("Train", 4), ("Val", 2), ("Test", 2)):
        for scene in scenes:
            for n in range(count):
                write_audio(root / folder / scene / f"{scene}_{folder.lower()}{n:03d}.wav", freq=300 + 100 * len(scene))


def test_cochlscene_uses_its_split_folders(tmp_path, write_audio):
    _write_cochlscene(tmp_path / "CochlScene", write_audio)
    (tmp_path / "CochlScene" / "Train" / "Bus" / "README.txt").write_text("x")
    adapter = open_dataset("cochlscene", tmp_path, {})
    index = adapter.index()
    assert index.class_names == ["Bus", "Cafe", "Street"]
    assert {s: sum(n) for s, n in index.counts().items()} == {"train": 12, "validation": 6, "test": 6}
    assert adapter.ignored == {"not .wav (.txt)": 1}


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda root: __import__("shutil").rmtree(root / "Val"), r"missing split folder .*Val"),
        (lambda root: (root / "Test" / "Library").mkdir(), r"other scene folders than Train \(Library\)"),
        (
            lambda root: __import__("shutil").copy(root / "Train" / "Bus" / "Bus_train000.wav", root / "Test" / "Bus"),
            r"Bus/Bus_train000 is in both Train and Test",
        ),
    ],
    ids=["missing-split", "unknown-class", "clip-in-two-splits"],
)
def test_a_malformed_cochlscene_tree_is_one_clear_error(tmp_path, write_audio, break_it, message):
    _write_cochlscene(tmp_path / "CochlScene", write_audio)
    break_it(tmp_path / "CochlScene")
    with pytest.raises(DataError, match=message):
        open_dataset("cochlscene", tmp_path, {}).index()


def _write_mp3(path: Path, freq: float) -> None:
    import numpy as np
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    tone = 0.3 * np.sin(2 * np.pi * freq * np.arange(4000) / 8000)
    sf.write(str(path), tone.astype(np.float32), 8000, format="MP3")


def _write_fma(root: Path, write_audio) -> None:
    """tracks.csv as the release writes it: a two-row header (group, column), then the track_id row."""
    rows = []
    genres = ["Hip-Hop", "Rock", "Folk"]
    for n in range(24):
        track = 2 + 137 * n
        split = ("test", "validation", "training", "training")[(n // 3) % 4]  # each triple holds every genre
        subset = "medium" if n == 23 else "small"
        rows.append([track, "x", split, subset, genres[n % 3]])
        if subset == "small" and n != 22:  # track 22's file is absent
            _write_mp3(root / "fma_small" / f"{track:06d}"[:3] / f"{track:06d}.mp3", 150 + 50 * (n % 3))
    (root / "fma_metadata").mkdir(parents=True)
    with open(root / "fma_metadata" / "tracks.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", "album", "set", "set", "track"])
        writer.writerow(["", "comments", "split", "subset", "genre_top"])
        writer.writerow(["track_id", "", "", "", ""])
        writer.writerows(rows)


def test_fma_small_reads_the_releases_metadata_and_split(tmp_path, write_audio):
    _write_fma(tmp_path / "fma", write_audio)
    adapter = open_dataset("fma_small", tmp_path, {})
    index = adapter.index()
    assert index.class_names == ["Folk", "Hip-Hop", "Rock"]
    assert {s: sum(n) for s, n in index.counts().items()} == {"train": 10, "validation": 6, "test": 6}
    assert adapter.ignored == {"listed in tracks.csv, file absent": 1}
    assert index.clips[0].source.name == "000002.mp3" and index.clips[0].source.parent.name == "000"


def test_a_malformed_fma_tree_is_one_clear_error(tmp_path, write_audio):
    _write_fma(tmp_path / "fma", write_audio)
    meta = tmp_path / "fma" / "fma_metadata" / "tracks.csv"
    meta.write_text(meta.read_text().replace("genre_top", "genre"))
    with pytest.raises(DataError, match=r"tracks.csv: missing column\(s\) track.genre_top"):
        open_dataset("fma_small", tmp_path, {}).index()
    meta.unlink()
    with pytest.raises(DataError, match=r"fma_small: missing .*tracks.csv"):
        open_dataset("fma_small", tmp_path, {}).index()


def _write_speech_commands(root: Path, write_audio, words: list[str]) -> None:
    for word in words:
        for speaker in ("aa11", "bb22", "cc33", "dd44", "ee55"):
            write_audio(root / word / f"{speaker}_nohash_0.wav", freq=200 + 20 * len(word))
    write_audio(root / "_background_noise_" / "white_noise.wav", seconds=2.0)
    (root / "testing_list.txt").write_text("".join(f"{w}/ee55_nohash_0.wav\n" for w in words))
    (root / "validation_list.txt").write_text("".join(f"{w}/dd44_nohash_0.wav\n" for w in words))


THIRTY_FIVE = (
    *("backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward", "four", "go"),
    *("happy", "house", "learn", "left", "marvin", "nine", "no", "off", "on", "one", "right", "seven"),
    *("sheila", "six", "stop", "three", "tree", "two", "up", "visual", "wow", "yes", "zero"),
)


def test_full_speech_commands_35_words_and_what_the_10_keyword_task_ignores(tmp_path, write_audio):
    _write_speech_commands(tmp_path / "sc", write_audio, list(THIRTY_FIVE))
    adapter = get_dataset("speechcommands").from_config(tmp_path, {"dir": "sc", "all_words": True})
    everything = adapter.index()
    assert len(everything.class_names) == 35 and everything.class_names == sorted(THIRTY_FIVE)
    assert {s: sum(n) for s, n in everything.counts().items()} == {"train": 105, "validation": 35, "test": 35}
    assert adapter.ignored == {"background-noise folder": 1}
    ten = get_dataset("speechcommands").from_config(tmp_path, {"dir": "sc"})
    assert len(ten.index().class_names) == 10
    assert ten.ignored == {"background-noise folder": 1, "word folders outside the task": 25}


def test_a_clip_in_both_official_lists_is_refused(tmp_path, write_audio):
    _write_speech_commands(tmp_path / "sc", write_audio, ["yes", "no", *THIRTY_FIVE[:8]])
    listed = tmp_path / "sc" / "validation_list.txt"
    listed.write_text(listed.read_text() + "yes/ee55_nohash_0.wav\n")
    with pytest.raises(DataError, match=r"yes/ee55_nohash_0.wav is in both testing_list.txt and validation_list"):
        get_dataset("speechcommands").from_config(tmp_path, {"dir": "sc", "all_words": True}).index()
