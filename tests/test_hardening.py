"""Bad inputs and faults a new user meets (issue 23): every one gives one line naming the key, value, file
or server, exit code 2, no traceback, nothing half-written, and nothing computed before it is caught."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bench.cli import cli
from bench.errors import UserError
from bench.writable import write_or_rescue
from tests.conftest import REPO, TINY_PARAMS
from tests.test_bad_input import _corrupt, make_fsdd


def _invoke(tmp_path: Path, params_text: str, *args: str):
    params = tmp_path / "params.yaml"
    params.write_text(params_text)
    base = ["--params", str(params), "--cache-dir", str(tmp_path / "cache"), "-q"]
    return CliRunner().invoke(cli, [*base, *args])


def _one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    for fragment in fragments:
        assert fragment in line, line
    return line


TYPOS = [
    ("profil: tiny\n", "unknown key(s) profil (did you mean 'profile'?)"),
    ("bogus_top_key: 1\n", "unknown key(s) bogus_top_key"),
    ("datasets:\n  synthetc: {num_classes: 4}\n", "datasets: unknown 'synthetc' (did you mean 'synthetic'?)"),
    ("techniques:\n  dmm: {iterations: 3}\n", "techniques: unknown 'dmm' (did you mean 'dm'?)"),
    ("techniques:\n  dm: {lr_imgg: 3}\n", "techniques.dm: unknown key(s) lr_imgg (did you mean 'lr_img'?)"),
    ("tracks:\n  convnett: {}\n", "tracks: unknown 'convnett' (did you mean 'convnet'?)"),
    ("tracks:\n  cross-arch: {seedz: [0]}\n", "tracks.cross-arch: unknown key(s) seedz (did you mean 'seeds'?)"),
]


@pytest.mark.parametrize(("extra", "message"), TYPOS, ids=[t[0].split(":")[0] for t in TYPOS])
def test_a_typo_anywhere_in_params_is_one_line_with_a_did_you_mean(tmp_path, extra, message):
    text = (
        TINY_PARAMS.replace("datasets:\n", "datasets_placeholder:\n") if extra.startswith("datasets") else TINY_PARAMS
    )
    text = text.replace("datasets_placeholder:\n  synthetic: {num_classes: 4, clips_per_class: 24}\n", "")
    result = _invoke(tmp_path, text + extra, "tracks")
    _one_line_error(result, message)


def test_a_nested_typo_in_a_profile_is_named_by_its_path(tmp_path):
    text = TINY_PARAMS.replace("protocol: {epochs: 30,", "protocol: {epoch: 30,")
    _one_line_error(_invoke(tmp_path, text, "tracks"), "profiles.tiny.protocol: unknown key(s) epoch")


VALUES = [
    (("--param", "batch_real=0"), "techniques.dm.batch_real: must be >= 1, got 0"),
    (("--param", "lr_img=-5"), "techniques.dm.lr_img: must be > 0, got -5.0"),
    (("--iterations", "-3"), "--iterations must be at least 1, got -3"),
]


@pytest.mark.parametrize(("args", "message"), VALUES, ids=["batch_real", "lr_img", "iterations"])
def test_out_of_range_technique_values_are_refused_before_any_work(tmp_path, args, message):
    out = tmp_path / "set.safetensors"
    result = _invoke(
        tmp_path, TINY_PARAMS, "distill", "-t", "dm", "-d", "synthetic", "--ipc", "1", "--out", str(out), *args
    )
    _one_line_error(result, message)
    assert not out.exists()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("seeds: [0, 1]", "seeds: []", "profiles.tiny.protocol.seeds: at least one evaluation seed"),
        ("seeds: [0, 1]", "seeds: [0, 0]", "profiles.tiny.protocol.seeds: seeds must be distinct"),
        ("n_mels: 16", "n_mels: -32", "profiles.tiny.features.n_mels: must be >= 1, got -32"),
        ("epochs: 30", "epochs: 0", "profiles.tiny.protocol.epochs: must be >= 1, got 0"),
    ],
)
def test_out_of_range_profile_values_are_refused(tmp_path, old, new, message):
    _one_line_error(_invoke(tmp_path, TINY_PARAMS.replace(old, new), "tracks"), message)


def test_repeated_evaluation_seeds_are_refused_not_counted_twice(tmp_path):
    result = _invoke(
        tmp_path,
        TINY_PARAMS,
        "evaluate",
        "--dataset",
        "synthetic",
        "--reference",
        "random",
        "--ipc",
        "1",
        "--seeds",
        "0,0,0",
    )
    assert result.exit_code == 2 and "seeds must be distinct" in result.output and "Traceback" not in result.output


def test_an_iteration_override_is_recorded_as_what_ran(tmp_path):
    out = tmp_path / "set.safetensors"
    result = _invoke(
        tmp_path,
        TINY_PARAMS,
        "distill",
        "-t",
        "dm",
        "-d",
        "synthetic",
        "--ipc",
        "1",
        "--out",
        str(out),
        "--iterations",
        "3",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.with_suffix(".json").read_text())["params"]["iterations"] == 3


@pytest.mark.parametrize("where", ["under-a-file", "long-name", "a-folder"])
def test_an_unwritable_output_is_refused_before_the_work(tmp_path, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    target = {
        "under-a-file": blocker / "set.safetensors",
        "long-name": tmp_path / ("s" * 300 + ".safetensors"),
        "a-folder": tmp_path,
    }[where]
    for command in (
        ["distill", "-t", "dm", "-d", "synthetic", "--ipc", "1", "--out", str(target)],
        ["evaluate", "--dataset", "synthetic", "--reference", "random", "--ipc", "1", "--out", str(target)],
    ):
        _one_line_error(_invoke(tmp_path, TINY_PARAMS, *command), "--out")
        assert not (tmp_path / "cache" / "features").exists(), "features were computed before the check"


def test_an_unwritable_cache_is_one_line(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    params = tmp_path / "params.yaml"
    params.write_text(TINY_PARAMS)
    result = CliRunner().invoke(
        cli, ["--params", str(params), "--cache-dir", str(blocker / "cache"), "-q", "features", "synthetic"]
    )
    _one_line_error(result, "--cache-dir", "cannot write there")


def test_a_late_write_failure_keeps_the_result_and_says_where(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("the folder became a file after the work was done")
    target = blocker / "record.json"
    with pytest.raises(UserError, match=r"record.json: could not write the result record .*saved to (\S+)") as caught:
        write_or_rescue(target, lambda path: path.write_text("{}"), "result record")
    rescued = Path(str(caught.value).rsplit("saved to ", 1)[1])
    assert rescued.read_text() == "{}"
    rescued.unlink()


def test_distill_and_evaluate_can_skip_a_bad_file_like_features(tmp_path, write_audio):
    recordings = make_fsdd(tmp_path / "data", write_audio)
    _corrupt("garbage", recordings / "3_alice_11.wav")
    text = TINY_PARAMS.replace("  synthetic: {num_classes: 4, clips_per_class: 24}", "  fsdd: {dir: fsdd}")
    root = ["--data-root", str(tmp_path / "data")]  # beats $DISTRACK_DATA_ROOT, which the suite sets
    out = tmp_path / "set.safetensors"
    command = [*root, "distill", "-t", "herding", "-d", "fsdd", "--ipc", "1", "--out", str(out)]
    _one_line_error(_invoke(tmp_path, text, *command), "3_alice_11.wav", "--skip-bad")
    assert not out.exists()
    assert _invoke(tmp_path, text, *command, "--skip-bad").exit_code == 0
    record = tmp_path / "record.json"
    evaluate = [*root, "evaluate", "--dataset", "fsdd", "--set", str(out), "--epochs", "1", "--seeds", "0"]
    _one_line_error(_invoke(tmp_path, text, *evaluate, "--out", str(record)), "3_alice_11.wav")
    result = _invoke(tmp_path, text, *evaluate, "--skip-bad", "--out", str(record))
    assert result.exit_code == 0, result.output
    assert json.loads(record.read_text())["dataset"]["skipped_files"] == 1


def test_a_long_job_into_a_log_prints_progress_lines(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(TINY_PARAMS)
    command = [sys.executable, "-m", "bench.cli.entry", "--params", str(params), "--cache-dir", str(tmp_path / "c")]
    command += [
        "distill",
        "-t",
        "dm",
        "-d",
        "synthetic",
        "--ipc",
        "1",
        "--iterations",
        "5",
        "--out",
        str(tmp_path / "s.safetensors"),
    ]
    env = {**os.environ, "DISTRACK_PROGRESS_SECONDS": "0"}
    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert "dm synthetic ipc=1: 5/5 after" in finished.stderr


def test_the_suite_runs_from_an_empty_folder_outside_the_repository(tmp_path, data_root, feature_cache):
    """No params.yaml there: the defaults shipped in the package apply (the repository's own file)."""
    base = [sys.executable, "-m", "bench.cli.entry"]
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "timeout": 600}
    assert subprocess.run([*base, "--help"], **run).returncode == 0
    listed = subprocess.run([*base, "--data-root", str(data_root), "datasets", "list"], **run)
    assert listed.returncode == 0 and "fsdd" in listed.stdout, listed.stderr
    shown = subprocess.run([*base, "params", "show", "--section", "grid"], **run)
    assert shown.stdout.startswith("# from ") and "default_params.yaml" in shown.stdout.splitlines()[0]
    scored = subprocess.run(
        [
            *base,
            "-q",
            "--data-root",
            str(data_root),
            "--cache-dir",
            str(feature_cache),
            "evaluate",
            "--dataset",
            "fsdd",
            "--reference",
            "random",
            "--ipc",
            "1",
            "--epochs",
            "1",
            "--seeds",
            "0",
        ],
        **run,
    )
    assert scored.returncode == 0, scored.stderr
    assert (tmp_path / "outputs" / "records" / "fsdd" / "random-ipc1-quick.json").is_file()


def test_the_packaged_defaults_are_the_repositorys_params_file():
    shipped = REPO / "bench" / "default_params.yaml"
    assert shipped.read_bytes() == (REPO / "params.yaml").read_bytes(), (
        "bench/default_params.yaml is what `distrack` uses outside a checkout: cp params.yaml bench/default_params.yaml"
    )


def test_generated_sets_are_not_committed_by_accident():
    for path in ("sets/dm.safetensors", "outputs/sets/x.safetensors", "mlflow.db.lock"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO)
        assert ignored.returncode == 0, f"{path} is not git-ignored"


def test_the_compose_tracking_server_has_the_clients_major_version():
    import mlflow

    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    tag = compose["services"]["mlflow"]["image"].rsplit(":v", 1)[1]
    assert tag.split(".")[0] == mlflow.__version__.split(".")[0], (tag, mlflow.__version__)
