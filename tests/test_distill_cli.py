"""`distrack distill`: atomic output, sidecar JSON, kill -9 then --resume, plug-in techniques."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from click.testing import CliRunner
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from bench.cli import cli
from bench.sets.files import load_set
from bench.techniques.registry import get_technique, technique_names


def _distill_args(params: Path, cache: Path, out: Path, iterations: int, *extra: str) -> list[str]:
    return [
        "--params",
        str(params),
        "--cache-dir",
        str(cache),
        "-q",
        "distill",
        "--technique",
        "dm",
        "--dataset",
        "synthetic",
        "--ipc",
        "2",
        "--seed",
        "3",
        "--iterations",
        str(iterations),
        "--out",
        str(out),
        *extra,
    ]


def test_distill_writes_set_and_sidecar_then_evaluates(tmp_path, tiny_params):
    out = tmp_path / "sets" / "dm.safetensors"
    result = CliRunner().invoke(cli, _distill_args(tiny_params, tmp_path / "cache", out, 5))
    assert result.exit_code == 0, result.output
    labelled = load_set(out, shape=(1, 16, 16), num_classes=4)
    assert labelled.metadata["technique"] == "dm" and labelled.ipc == 2
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["cost"]["iterations"] == 5 and len(sidecar["loss_history"]) == 5
    assert sorted(p.name for p in out.parent.iterdir()) == ["dm.json", "dm.safetensors"]  # no checkpoint left


def test_distill_rejects_a_non_safetensors_name(tmp_path, tiny_params):
    result = CliRunner().invoke(cli, _distill_args(tiny_params, tmp_path, tmp_path / "set.pt", 1))
    assert result.exit_code == 2 and "use a .safetensors name" in result.output


def _add_seconds_to_checkpoint(checkpoint: Path, seconds: float) -> float:
    """Pretend the killed process ran ``seconds`` longer; returns the checkpoint's new total."""
    with safe_open(str(checkpoint), framework="pt") as handle:
        metadata = handle.metadata()
    metadata["seconds"] = repr(float(metadata["seconds"]) + seconds)
    save_file(load_file(str(checkpoint)), str(checkpoint), metadata=metadata)
    return float(metadata["seconds"])


def test_kill_then_resume_matches_an_uninterrupted_run_and_counts_both_runs_time(tmp_path, tiny_params):
    iterations = 300
    reference = tmp_path / "reference.safetensors"
    result = CliRunner().invoke(cli, _distill_args(tiny_params, tmp_path / "cache", reference, iterations))
    assert result.exit_code == 0, result.output

    out = tmp_path / "killed.safetensors"
    checkpoint = out.with_name(out.name + ".ckpt")
    command = [
        sys.executable,
        "-m",
        "bench.cli.entry",
        *_distill_args(tiny_params, tmp_path / "cache", out, iterations, "--checkpoint-every", "10"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the run finished before it could be killed; raise the iteration count"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists(), "a killed run must leave no output file"
    assert checkpoint.exists()
    killed_seconds = _add_seconds_to_checkpoint(checkpoint, 1000.0)

    started = time.perf_counter()
    result = CliRunner().invoke(cli, _distill_args(tiny_params, tmp_path / "cache", out, iterations, "--resume"))
    resume_seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert torch.equal(load_set(out).x, load_set(reference).x)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["loss_history"] == json.loads(reference.with_suffix(".json").read_text())["loss_history"]
    # the cost is the whole distillation's: the killed process's seconds plus the resumed one's
    assert killed_seconds < sidecar["cost"]["wall_seconds"] < killed_seconds + resume_seconds


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path, tiny_params):
    out = tmp_path / "s.safetensors"
    checkpoint = out.with_name(out.name + ".ckpt")
    from bench.techniques.loop import Checkpoint, Learnables

    Checkpoint(checkpoint, "someone-else").save(3, Learnables.create({"x": (torch.zeros(8, 1, 16, 16), 1.0, 0.5)}), [])
    result = CliRunner().invoke(cli, _distill_args(tiny_params, tmp_path / "cache", out, 5, "--resume"))
    assert result.exit_code == 2 and "belongs to a different run" in result.output


def test_an_external_package_registers_a_technique_through_the_entry_point(toy_plugin, tmp_path, tiny_params):
    assert "toy" in technique_names()
    assert get_technique("toy").__module__ == "toy_distill"
    out = tmp_path / "toy.safetensors"
    result = CliRunner().invoke(
        cli,
        [
            "--params",
            str(tiny_params),
            "--cache-dir",
            str(tmp_path / "c"),
            "-q",
            "distill",
            "-t",
            "toy",
            "-d",
            "synthetic",
            "--ipc",
            "1",
            "--out",
            str(out),
            "--param",
            "scale=0.25",
        ],
    )
    assert result.exit_code == 0, result.output
    assert load_set(out).metadata["params"] == {"scale": 0.25}


def _technique_params(params: Path, *extra: str) -> dict:
    result = CliRunner().invoke(cli, ["--params", str(params), "techniques", "--json", *extra])
    assert result.exit_code == 0, result.output
    return {row["name"]: row["params"] for row in json.loads(result.output)}


def test_by_dataset_values_apply_to_their_dataset_only(tmp_path):
    from tests.conftest import TINY_PARAMS

    params = tmp_path / "params.yaml"
    params.write_text(TINY_PARAMS + "techniques:\n  dm: {lr_img: 2.0, by_dataset: {synthetic: {lr_img: 5.0}}}\n")
    assert _technique_params(params)["dm"]["lr_img"] == 2.0
    assert _technique_params(params, "--dataset", "synthetic")["dm"]["lr_img"] == 5.0
    params.write_text(TINY_PARAMS + "techniques:\n  dm: {by_dataset: {nope: {lr_img: 5.0}}}\n")
    result = CliRunner().invoke(cli, ["--params", str(params), "techniques"])
    assert result.exit_code != 0 and "techniques.dm.by_dataset: unknown dataset(s) ['nope']" in result.output


def test_by_profile_values_apply_to_their_profile_only_and_by_dataset_wins(tmp_path):
    from tests.conftest import TINY_PARAMS

    params = tmp_path / "params.yaml"
    tiny = TINY_PARAMS.split("  tiny:\n")[1]
    two_profiles = TINY_PARAMS + "  other:\n" + tiny
    dm = "{lr_img: 2.0, by_profile: {tiny: {lr_img: 3.0, iterations: 7}}, by_dataset: {synthetic: {lr_img: 5.0}}}"
    params.write_text(two_profiles + f"techniques:\n  dm: {dm}\n")
    assert _technique_params(params)["dm"]["iterations"] == 7
    assert _technique_params(params)["dm"]["lr_img"] == 3.0
    assert _technique_params(params, "--dataset", "synthetic")["dm"]["lr_img"] == 5.0
    other = CliRunner().invoke(cli, ["--params", str(params), "--profile", "other", "techniques", "--json"])
    dm_other = next(row for row in json.loads(other.output) if row["name"] == "dm")["params"]
    assert dm_other["lr_img"] == 2.0 and dm_other["iterations"] != 7
    params.write_text(two_profiles + "techniques:\n  dm: {by_profile: {nope: {lr_img: 5.0}}}\n")
    result = CliRunner().invoke(cli, ["--params", str(params), "techniques"])
    assert result.exit_code != 0 and "techniques.dm.by_profile: unknown profile(s) ['nope']" in result.output


def test_param_values_in_exponent_notation_are_numbers():
    from bench.overrides import parse_value

    assert parse_value("1e-6") == 1e-6 and parse_value("100") == 100 and parse_value("real") == "real"
