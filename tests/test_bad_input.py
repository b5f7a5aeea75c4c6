"""Bad input gives a clear error naming the file or value; --skip-bad skips and counts."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli import cli
from bench.data.registry import open_dataset
from bench.errors import DataError, UserError
from bench.features.store import load_feature_set
from bench.params import FeatureParams
from bench.sets.references import random_real_subset

FEATURES = FeatureParams(sample_rate=8000, n_fft=256, hop_length=128, n_mels=16, frames=16)


def make_fsdd(root: Path, write_audio, per_digit: int = 12) -> Path:
    """A small FSDD-layout tree: one speaker, ``per_digit`` recordings of each digit."""
    for digit in range(10):
        for n in range(per_digit):
            write_audio(root / "fsdd" / "recordings" / f"{digit}_alice_{n}.wav", freq=150 + 80 * digit, seconds=0.2)
    return root / "fsdd" / "recordings"


def _corrupt(kind: str, path: Path) -> None:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "non-audio":
        path.write_text("this is not audio\n" * 50)
    elif kind == "garbage":
        path.write_bytes(b"RIFF\x00\x01\x02\x03WAVEjunkjunkjunk" * 20)
    elif kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("kind", ["empty", "non-audio", "garbage", "truncated"])
def test_unreadable_file_is_named(tmp_path, write_audio, kind):
    recordings = make_fsdd(tmp_path, write_audio)
    bad = recordings / "3_alice_11.wav"
    _corrupt(kind, bad)
    adapter = open_dataset("fsdd", tmp_path, {})
    with pytest.raises(DataError, match=rf"{bad}.*--skip-bad"):
        load_feature_set(adapter, FEATURES, None)


def test_skip_bad_skips_and_reports(tmp_path, write_audio, capsys):
    recordings = make_fsdd(tmp_path, write_audio)
    _corrupt("empty", recordings / "3_alice_11.wav")
    _corrupt("truncated", recordings / "4_alice_10.wav")
    features = load_feature_set(open_dataset("fsdd", tmp_path, {}), FEATURES, None, skip_bad=True)
    assert len(features.skipped) == 2
    assert len(features.train) == 20 - 2
    assert "skipped 2 unreadable file(s)" in capsys.readouterr().err


def test_wrong_layout_is_explained(tmp_path, write_audio):
    write_audio(tmp_path / "fsdd" / "3_alice_0.wav")  # recordings/ folder missing
    with pytest.raises(DataError, match=r"expected folder .*recordings"):
        open_dataset("fsdd", tmp_path, {}).index()
    write_audio(tmp_path / "fsdd" / "recordings" / "three-alice.wav")
    with pytest.raises(DataError, match=r"three-alice.wav: file name does not follow"):
        open_dataset("fsdd", tmp_path, {}).index()


def test_missing_dataset_directory_says_how_to_fix(tmp_path):
    with pytest.raises(DataError, match=r"distrack datasets fetch esc10"):
        open_dataset("esc10", tmp_path, {}).index()


def test_missing_class_is_named(tmp_path, write_audio):
    root = tmp_path / "sc"
    for word in ("yes", "no"):
        write_audio(root / word / "aaaa_nohash_0.wav")
    (root / "testing_list.txt").write_text("")
    (root / "validation_list.txt").write_text("")
    params = {"datasets": {"speechcommands": {"dir": "sc", "keywords": ["yes", "no", "maybe"]}}}
    with pytest.raises(DataError, match=r"keyword folder .*maybe is missing"):
        open_dataset("speechcommands", tmp_path, params).index()


def test_class_absent_from_a_split_is_named(tmp_path, write_audio):
    make_fsdd(tmp_path, write_audio, per_digit=12)
    for n in range(10, 12):
        (tmp_path / "fsdd" / "recordings" / f"7_alice_{n}.wav").unlink()
    with pytest.raises(DataError, match=r"class\(es\) 7 have no clips in the train split"):
        open_dataset("fsdd", tmp_path, {}).index()


def test_ipc_larger_than_a_class_is_named(tmp_path, write_audio):
    make_fsdd(tmp_path, write_audio)
    features = load_feature_set(open_dataset("fsdd", tmp_path, {}), FEATURES, None)
    with pytest.raises(UserError, match=r"--ipc 3 exceeds the training examples of fsdd class\(es\): 0 \(2\)"):
        random_real_subset(features, 3, seed=0)


def test_cli_reports_user_errors_without_traceback(tmp_path, tiny_params):
    result = CliRunner().invoke(
        cli,
        [
            "--params",
            str(tiny_params),
            "--data-root",
            str(tmp_path),
            "-q",
            "evaluate",
            "--dataset",
            "fsdd",
            "--reference",
            "random",
            "--ipc",
            "1",
        ],
    )
    assert result.exit_code == 2
    assert result.output.startswith("Error: fsdd: dataset directory")
    assert "Traceback" not in result.output


def test_cli_rejects_a_typo_in_params(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("profiles:\n  quick:\n    features: {sample_rate: 8000}\n    protocol: {epochs: 1}\n")
    result = CliRunner().invoke(cli, ["--params", str(params), "-q", "features", "synthetic"])
    assert result.exit_code == 2
    assert "profiles.quick.features.n_fft: required key is missing" in result.output


@pytest.mark.parametrize(
    ("command", "option"), [(["run"], "--results"), (["run"], "--outputs"), (["records", "rekey"], "--outputs")]
)
def test_a_file_where_a_folder_of_records_or_sets_is_meant_is_refused(tmp_path, command, option):
    a_file = tmp_path / "record.json"
    a_file.write_text("{}")
    result = CliRunner().invoke(
        cli, ["-q", *command, option, str(a_file), "--dry-run" if command == ["run"] else "--check"]
    )
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output and "is a file" in result.output
    assert "Traceback" not in result.output
