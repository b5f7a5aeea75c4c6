"""Adapters on the real shared datasets (FSDD, ESC-10, Speech Commands mini)."""

import pytest

from bench.data.registry import open_dataset


def _split_groups(index):
    return {split: {c.group for c in index.split(split)} for split in ("train", "validation", "test")}


def test_fsdd_follows_the_dataset_convention(data_root, repo_params):
    index = open_dataset("fsdd", data_root, repo_params).index()
    assert index.class_names == [str(d) for d in range(10)]
    assert {s: sum(n) for s, n in index.counts().items()} == {"train": 2400, "validation": 300, "test": 300}
    for clip in index.split("test"):
        assert int(clip.key.rsplit("_", 1)[1]) < 5
    for clip in index.split("validation"):
        assert 5 <= int(clip.key.rsplit("_", 1)[1]) < 10


def test_fsdd_speaker_split_holds_out_whole_speakers(data_root):
    params = {"datasets": {"fsdd": {"split": "speaker", "test_speakers": ["theo"], "validation_speakers": ["lucas"]}}}
    index = open_dataset("fsdd", data_root, params).index()
    speakers = {s: {c.key.split("_")[1] for c in index.split(s)} for s in ("train", "validation", "test")}
    assert speakers["test"] == {"theo"} and speakers["validation"] == {"lucas"}
    assert not speakers["train"] & {"theo", "lucas"}


def test_fsdd_reference_split_trains_on_every_recording_outside_test(data_root):
    """Issue #7's anchor split: train = indices 5-49 (2,700); the validation clips are copies of 5-9."""
    index = open_dataset("fsdd", data_root, {"datasets": {"fsdd": {"split": "reference"}}}).index()
    assert {s: sum(n) for s, n in index.counts().items()} == {"train": 2700, "validation": 300, "test": 300}
    train_sources = {c.source for c in index.split("train")}
    assert {c.source for c in index.split("validation")} <= train_sources
    assert not {c.source for c in index.split("test")} & train_sources


def test_esc10_original_release_uses_folds(data_root, repo_params):
    index = open_dataset("esc10", data_root, repo_params).index()
    assert len(index.class_names) == 10 and index.class_names[0] == "Dog bark"
    assert {s: sum(n) for s, n in index.counts().items()} == {"train": 240, "validation": 80, "test": 80}
    assert all(c.source.name.startswith("5-") for c in index.split("test"))
    groups = _split_groups(index)
    assert not groups["train"] & groups["test"] and not groups["train"] & groups["validation"]


def test_speechcommands_mini_uses_official_lists_and_says_it_is_a_subset(data_root, repo_params):
    index = open_dataset("speechcommands", data_root, repo_params).index()
    assert index.class_names == ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
    listed = (data_root / "speech_commands_mini" / "testing_list.txt").read_text().split()
    assert {c.key for c in index.split("test")} == set(listed)
    groups = _split_groups(index)
    assert not (groups["train"] & groups["test"]) and not (groups["train"] & groups["validation"])
    assert index.subset_note and "subset" in index.subset_note


@pytest.mark.parametrize("name", ["fsdd", "esc10", "speechcommands"])
def test_every_real_clip_is_readable_audio(data_root, repo_params, name):
    adapter = open_dataset(name, data_root, repo_params)
    clip = adapter.index().clips[0]
    wave, rate = adapter.read(clip)
    assert wave.ndim == 1 and wave.size > 1000 and rate in (8000, 16000, 44100)


def test_resplit_reproduces_the_shared_speech_commands_lists(data_root, tmp_path):
    """Re-deriving the mini subset's split from its files gives exactly the shared lists."""
    from bench.data.adapters.speechcommands import resplit_by_speaker

    source = data_root / "speech_commands_mini"
    counts = resplit_by_speaker(source, tmp_path / "mini", keywords=("yes", "stop"))
    for name in ("testing_list.txt", "validation_list.txt"):
        shared = [line for line in (source / name).read_text().split() if line.split("/")[0] in ("yes", "stop")]
        assert sorted((tmp_path / "mini" / name).read_text().split()) == sorted(shared)
    assert counts["left_out"] == 0 and counts["train"] > counts["test"] > counts["validation"] > 0


def test_philharmonia_reads_its_mp3s_and_never_splits_a_pitch(data_root, repo_params):
    adapter = open_dataset("philharmonia", data_root, repo_params)
    index = adapter.index()
    assert len(index.class_names) == 12 and "french horn" in index.class_names
    counts = index.counts()
    assert sum(map(sum, counts.values())) == len(index.clips) >= 12 * 100  # 1,440 in the shared copy
    for split, share in (("test", 0.2), ("validation", 0.1)):
        for label, n in enumerate(counts[split]):
            total = sum(counts[s][label] for s in counts)
            assert abs(n - share * total) <= 8, (split, index.class_names[label], n, total)  # stratified
    groups = _split_groups(index)
    assert not groups["train"] & groups["test"] and not groups["train"] & groups["validation"]
    assert not groups["validation"] & groups["test"]
    assert all(c.group == f"{c.key.split('/')[0]}/{c.source.stem.split('_')[1]}" for c in index.clips)
    assert adapter.ignored == {}
    wave, rate = adapter.read(index.clips[0])
    assert rate == 44100 and wave.ndim == 1 and len(wave) > 1000
