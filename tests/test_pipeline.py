"""The sweep runner (`distrack run`): grid parsing, content-key skips, kill -9 resume, concurrent MLflow
logging (embedded SQLite and a live `mlflow server`), submitit's local executor."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from bench.cli import cli
from bench.device import cpu_threads
from bench.errors import UserError
from bench.pipeline.grid import GridCell, expand, load_grid, parse_only, select
from bench.pipeline.tracking import CellLog, TrackingTarget, count_cell_runs, log_cell, mlflow_names, open_sweep
from bench.sets.files import load_set, save_set
from tests.conftest import TINY_PARAMS

GRID = """
grid: {profile: tiny, datasets: [synthetic], techniques: TECHNIQUES, references: REFERENCES, ipc: IPC, seeds: [0],
       tracks: TRACKS}
techniques: {dm: {iterations: ITERATIONS}}
tracks:
  cross-arch: {architectures: {mlp: {architecture: mlp, hidden: [8]}}, seeds: [0]}
"""


def _params(
    tmp_path: Path,
    techniques: str = "[dm]",
    ipc: str = "[1]",
    iterations: int = 3,
    references: str = "[random]",
    tracks: str = "[convnet, nearest-mean]",
) -> Path:
    grid = GRID.replace("TECHNIQUES", techniques).replace("IPC", ipc).replace("ITERATIONS", str(iterations))
    grid = grid.replace("REFERENCES", references).replace("TRACKS", tracks)
    path = tmp_path / "params.yaml"
    path.write_text(TINY_PARAMS + grid)
    return path


def _run(tmp_path: Path, params: Path, *args: str, env: dict | None = None):
    base = ["--params", str(params), "--cache-dir", str(tmp_path / "cache"), "-q", "run"]
    paths = ["--outputs", str(tmp_path / "outputs"), "--results", str(tmp_path / "results")]
    return CliRunner(env=env).invoke(cli, [*base, *paths, *args])


def test_grid_expands_in_a_fixed_order_and_filters():
    grid = load_grid(
        {
            "grid": {
                "profile": "quick",
                "datasets": ["fsdd"],
                "techniques": ["dm"],
                "references": ["random", "full"],
                "ipc": [1, 10],
            }
        }
    )
    cells = expand(grid)
    slugs = ["dm-ipc1-seed0", "dm-ipc10-seed0", "full", "random-ipc1-seed0", "random-ipc10-seed0"]
    assert [c.slug for c in cells] == slugs
    assert [c.kind for c in cells] == ["technique", "technique", "reference", "reference", "reference"]
    assert select(cells, parse_only(["technique=dm,ipc=10"])) == [GridCell("fsdd", "dm", 10, 0)]
    assert len(select(cells, parse_only(["ipc=1+10", "technique=random"]))) == 2
    assert select(cells, parse_only(["technique=full"])) == [GridCell("fsdd", "full", None, 0, "reference")]


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"profile": "quick", "datasets": ["nope"], "techniques": ["dm"], "ipc": [1]}, "grid.datasets: unknown nope"),
        ({"profile": "quick", "datasets": ["fsdd"], "techniques": ["dmm"], "ipc": [1]}, "grid.techniques: unknown dmm"),
        ({"profile": "quick", "datasets": ["fsdd"], "techniques": ["dm"], "ipc": [0]}, "grid.ipc"),
        ({"profile": "quick", "datasets": ["fsdd"], "techniques": ["dm"], "ipc": [1], "ipcs": [2]}, "ipcs"),
        (
            {"profile": "quick", "datasets": ["fsd"], "techniques": ["dm"], "ipc": [1]},
            r"grid.datasets: unknown fsd \(did you mean 'fsdd'\?\)",
        ),
        (
            {"profile": "quick", "datasets": ["fsdd"], "techniques": ["dm"], "ipc": [1], "tracks": ["convnett"]},
            r"grid.tracks: unknown convnett \(did you mean 'convnet'\?\)",
        ),
        (
            {"profile": "quick", "datasets": ["fsdd"], "techniques": ["random"], "ipc": [1]},
            r"grid.techniques: unknown random",
        ),
        ({"profile": "quick", "datasets": ["fsdd"], "techniques": ["dm"], "ipc": [1], "seeds": [0, 0]}, "distinct"),
    ],
)
def test_bad_grids_are_refused_by_name(grid, message):
    with pytest.raises(UserError, match=message):
        load_grid({"grid": grid})


def test_only_rejects_unknown_keys_and_non_integers():
    with pytest.raises(UserError, match="KEY one of"):
        parse_only(["method=dm"])
    with pytest.raises(UserError, match="ipc must be an integer"):
        parse_only(["ipc=ten"])


def test_second_run_skips_and_a_param_change_reruns_only_that_technique(tmp_path):
    params = _params(tmp_path)
    first = _run(tmp_path, params, "--no-tracking")
    assert first.exit_code == 0, first.output
    assert "2 done, 0 up to date" in first.output
    records = sorted((tmp_path / "results" / "tiny" / "synthetic").glob("*/*.json"))
    assert [r.name for r in records] == ["dm-ipc1-seed0.json", "random-ipc1-seed0.json"]
    record = json.loads(records[0].read_text())
    assert record["evaluated_set"]["kind"] == "technique" and set(record["results"]) == {"convnet", "nearest-mean"}
    assert 0.0 <= record["results"]["convnet"]["metrics"]["test_accuracy"]["mean"] <= 1.0
    assert json.loads(records[1].read_text())["evaluated_set"]["kind"] == "reference"

    again = _run(tmp_path, params, "--no-tracking")
    assert "0 done, 2 up to date" in again.output

    params.write_text(params.read_text().replace("dm: {iterations: 3}", "dm: {iterations: 3, lr_img: 0.5}"))
    changed = _run(tmp_path, params, "--no-tracking")
    assert "1 done, 1 up to date" in changed.output
    assert "synthetic dm-ipc1-seed0: done" in changed.output

    dry = _run(tmp_path, params, "--dry-run")
    assert dry.output.count("up to date") == 3 and dry.output.strip().endswith("2 up to date")


def test_a_stage_leaves_its_datasets_output_folder_even_when_no_cell_writes_into_it(tmp_path):
    """dvc.yaml runs one distill and one evaluate stage per dataset and declares the dataset's set and record
    folders as their outputs: a grid of reference rows only distils nothing, yet DVC needs the folder."""
    params = _params(tmp_path, techniques="[]")
    sets, records = tmp_path / "outputs/sets/tiny/synthetic", tmp_path / "results/tiny/synthetic"
    result = _run(tmp_path, params, "--stage", "distill", "--only", "dataset=synthetic")
    assert result.exit_code == 0, result.output
    assert sets.is_dir() and not any(sets.iterdir())
    assert not records.exists()  # the distill stage makes no record folder
    result = _run(tmp_path, params, "--stage", "evaluate", "--no-tracking", "--only", "dataset=synthetic")
    assert result.exit_code == 0, result.output
    assert records.is_dir()


def test_a_missing_background_dataset_stops_the_sweep_before_it_computes_anything(tmp_path):
    """The shift track mixes in another dataset's sounds; `dvc repro` reads only the grid's datasets, so a grid
    without that dataset used to fail at each cell's evaluation, after its distillation and the other tracks.
    The sweep now checks first, and only where shift scores a cell (--track-ipc)."""
    params = tmp_path / "params.yaml"
    grid = "grid: {profile: tiny, datasets: [synthetic], techniques: [herding], ipc: [1], seeds: [0], "
    grid += "tracks: [convnet, shift]}\n"
    shift = "tracks:\n  shift: {corruptions: {background: [10]}, background: {dataset: esc10}, seeds: [0]}\n"
    params.write_text(TINY_PARAMS + grid + shift)
    env = {"DISTRACK_DATA_ROOT": str(tmp_path / "no-such-root")}
    result = _run(tmp_path, params, "--no-tracking", "--track-ipc", "shift=1", env=env)
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: tracks.shift.background: esc10") and "list esc10 in grid.datasets" in line
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "results").exists()
    scored_elsewhere = _run(tmp_path, params, "--no-tracking", "--track-ipc", "shift=10", env=env)
    assert scored_elsewhere.exit_code == 0, scored_elsewhere.output  # shift scores no IPC 1 cell: nothing to check


def test_an_accelerated_sweep_records_it_and_is_not_mistaken_for_a_plain_one(tmp_path):
    params = _params(tmp_path, techniques="[dm]", references="[]")
    record = tmp_path / "results" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.json"
    distilled = tmp_path / "outputs" / "sets" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.safetensors"
    refused = _run(tmp_path, params, "--no-tracking", "--accelerate", "chunked,warp")
    assert refused.exit_code != 0 and "unknown option(s) warp" in refused.output
    assert not record.exists()
    chunked = _run(tmp_path, params, "--no-tracking", "--accelerate", "chunked")
    assert "1 done, 0 up to date" in chunked.output, chunked.output
    assert json.loads(record.read_text())["results"]["convnet"]["acceleration"] == ["chunked"]
    set_written = distilled.stat().st_mtime_ns
    assert "0 done, 1 up to date" in _run(tmp_path, params, "--no-tracking", "--accelerate", "chunked").output
    plain = _run(tmp_path, params, "--no-tracking")  # a different protocol: evaluated again, not reused
    assert "1 done, 0 up to date" in plain.output
    assert "acceleration" not in json.loads(record.read_text())["results"]["convnet"]
    assert distilled.stat().st_mtime_ns == set_written  # the set does not depend on it: not distilled again


def test_a_failing_cell_is_reported_and_the_rest_still_run(tmp_path):
    params = _params(tmp_path, ipc="[1, 50]")  # synthetic has 24 clips per class, 16 of them for training
    result = _run(tmp_path, params, "--no-tracking")
    assert result.exit_code == 2
    assert "2 done" in result.output and "2 failed" in result.output
    for slug in ("dm-ipc50-seed0", "random-ipc50-seed0"):
        failure = rf"synthetic {slug}: failed \([\d.]+ s\) — --ipc 50 exceeds the training examples of synthetic"
        assert re.search(failure, result.output), result.output


def test_kill_9_mid_distillation_then_rerun_matches_an_uninterrupted_run(tmp_path):
    iterations = 300
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    reference_dir.mkdir()
    killed_dir.mkdir()
    params = _params(tmp_path, techniques="[dm]", iterations=iterations)
    done = _run(reference_dir, params, "--no-tracking", "--checkpoint-every", "10")
    assert done.exit_code == 0, done.output

    set_dir = killed_dir / "outputs" / "sets" / "tiny" / "synthetic" / "dm"
    command = [
        sys.executable,
        "-m",
        "bench.cli.entry",
        "--params",
        str(params),
        "--cache-dir",
        str(killed_dir / "cache"),
        "-q",
        "run",
        "--no-tracking",
        "--checkpoint-every",
        "10",
        "--outputs",
        str(killed_dir / "outputs"),
        "--results",
        str(killed_dir / "results"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while not list(set_dir.glob("*.ckpt")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the sweep finished before it could be killed; raise the iteration count"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (set_dir / "dm-ipc1-seed0.safetensors").exists(), "a killed cell must leave no set"
    assert not list(set_dir.glob(".*.tmp")), "no temporary file may survive as output"

    resumed = _run(killed_dir, params, "--no-tracking", "--checkpoint-every", "10")
    assert resumed.exit_code == 0, resumed.output
    ours = load_set(set_dir / "dm-ipc1-seed0.safetensors")
    reference = load_set(reference_dir / "outputs" / "sets" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.safetensors")
    assert torch.equal(ours.x, reference.x)
    record = json.loads((killed_dir / "results" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.json").read_text())
    expected = json.loads((reference_dir / "results" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.json").read_text())
    assert record["results"]["convnet"]["metrics"] == expected["results"]["convnet"]["metrics"]
    assert not list(set_dir.glob("*.ckpt")), "the checkpoint is removed once the cell is done"


def _parent_of(output: str) -> str:
    return output.strip().rsplit("MLflow parent run ", 1)[1].split()[0]


def _assert_all_runs_logged(uri: str, output: str, expected: int) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    parent = _parent_of(output)
    experiment = client.get_run(parent).info.experiment_id
    assert count_cell_runs(TrackingTarget(uri, experiment, parent)) == expected
    children = client.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{parent}'")
    for run in children:
        assert run.info.status == "FINISHED"
        assert {"technique", "dataset", "ipc", "seed", "git_commit", "dataset_hash"} <= set(run.data.tags)
        assert {"convnet/test_accuracy_mean", "nearest-mean/test_accuracy_mean"} <= set(run.data.metrics)
    names = {a.path for a in client.list_artifacts(children[0].info.run_id)}
    assert {"spectrograms.png", "samples", "record.json"} <= names


EIGHT_CELLS = "[herding, kcenter, prototype]"  # and the random reference row


def test_four_workers_log_every_run_to_sqlite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    params = _params(tmp_path, techniques=EIGHT_CELLS, ipc="[1, 2]")
    result = _run(tmp_path, params, "-j", "4", env={"MLFLOW_TRACKING_URI": uri})
    assert result.exit_code == 0, result.output
    assert "8 done" in result.output
    _assert_all_runs_logged(uri, result.output, 8)


def test_a_sweep_with_nothing_to_do_opens_no_mlflow_run(tmp_path, monkeypatch):
    """Opening the SQLite store costs seconds a process: a sweep whose cells are all up to date skips it, and
    the sweep's parent run is left as the run that computed them finished it."""
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    params = _params(tmp_path, techniques="[prototype]")
    first = _run(tmp_path, params, "--sweep", "again", env={"MLFLOW_TRACKING_URI": uri})
    assert first.exit_code == 0 and "2 done" in first.output, first.output
    parent = MlflowClient(tracking_uri=uri).get_run(_parent_of(first.output)).info
    second = _run(tmp_path, params, "--sweep", "again", env={"MLFLOW_TRACKING_URI": uri})
    assert second.exit_code == 0 and "0 done, 2 up to date" in second.output, second.output
    assert "MLflow parent run" not in second.output
    again = MlflowClient(tracking_uri=uri).get_run(parent.run_id).info
    assert (again.status, again.end_time) == ("FINISHED", parent.end_time)


def test_a_cell_scored_by_the_shift_track_is_logged_with_names_mlflow_accepts(tmp_path, monkeypatch):
    """The shift track names its corrupted splits ``<corruption>@<severity>``, a character MLflow refuses: the
    whole board's IPC 10 cells failed to log (their records written, their runs left RUNNING) until the names
    were spelled out."""
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    params = _params(tmp_path, techniques="[prototype]", references="[]", tracks="[shift]")
    shift = "  shift: {corruptions: {noise: [10]}, seeds: [0], tta_steps: [1], tta_lrs: [0.01], tta_batch: 16}\n"
    params.write_text(params.read_text() + shift)
    result = _run(tmp_path, params, "--track-ipc", "shift=1", env={"MLFLOW_TRACKING_URI": uri})
    assert result.exit_code == 0 and "1 done" in result.output, result.output
    client = MlflowClient(tracking_uri=uri)
    parent = _parent_of(result.output)
    (run,) = client.search_runs(
        [client.get_run(parent).info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
    )
    assert run.info.status == "FINISHED"
    assert {"shift/test_accuracy/noise_at_10_mean", "shift/test_accuracy_mean"} <= set(run.data.metrics)


def test_mlflow_names_spell_out_refused_characters_and_never_merge_two_names():
    assert mlflow_names(["shift/test_accuracy/background@20", "a:b (c)"]) == {
        "shift/test_accuracy/background@20": "shift/test_accuracy/background_at_20",
        "a:b (c)": "a_b _c_",
    }
    with pytest.raises(UserError, match="'a:b' and 'a_b' would both be logged as 'a_b'"):
        mlflow_names(["a:b", "a_b"])


def test_a_cell_run_that_cannot_be_logged_whole_ends_failed_not_running(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    target = open_sweep("failing", "sweep", {}, {}, uri)
    log = CellLog(name="cell", params={}, tags={}, series={"loss": [1.0]}, final={}, artefacts=[])

    def broken_hook(scratch: Path) -> list[Path]:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        log_cell(target, log, broken_hook)
    (run,) = MlflowClient(tracking_uri=uri).search_runs(
        [target.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{target.parent_run_id}'"
    )
    assert run.info.status == "FAILED"


def test_the_boards_sample_sounds_are_rendered_once_per_set(tmp_path, monkeypatch):
    """Griffin-Lim over every board set was most of a rebuild: a sample folder whose fingerprint names its set
    is left alone, and a changed set is heard again."""
    import dataclasses

    monkeypatch.chdir(tmp_path)
    assert _run(tmp_path, _params(tmp_path), "--no-tracking").exit_code == 0
    board = tmp_path / "board" / "README.md"
    folder = board.parent / "samples" / "tiny" / "synthetic"
    args = ["leaderboard", "build", "--results", str(tmp_path / "results"), "--out", str(board), "--samples"]

    def build() -> dict[str, tuple[int, bytes]]:
        result = CliRunner().invoke(cli, [*args, "--cache-root", str(tmp_path / "cache")])
        assert result.exit_code == 0, result.output
        return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.iterdir())}

    first = build()
    assert "spectrograms.png" in first and any(name.endswith(".wav") for name in first)
    assert build() == first  # nothing rendered again: same bytes, same modification times
    set_path = tmp_path / "outputs" / "sets" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.safetensors"
    labelled = load_set(set_path)
    save_set(set_path, dataclasses.replace(labelled, x=labelled.x.flip(-1)))
    second = build()
    assert second.keys() == first.keys()
    assert all(second[name][0] != first[name][0] for name in first)
    assert second["spectrograms.png"][1] != first["spectrograms.png"][1]


def _cli_command(params: Path, workdir: Path, *args: str) -> list[str]:
    base = [sys.executable, "-m", "bench.cli.entry", "--params", str(params), "--cache-dir", str(workdir / "cache")]
    paths = ["--outputs", str(workdir / "outputs"), "--results", str(workdir / "results")]
    return [*base, "-q", "run", *paths, *args]


def test_four_sweeps_started_at_once_on_a_fresh_sqlite_store_all_succeed_and_share_the_cells(tmp_path):
    """Four processes, one fresh store, the same cells: every process succeeds, each cell is computed once
    (the others wait for its lock and find it up to date), and the store opens afterwards."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    params = _params(tmp_path, techniques="[herding, kcenter, prototype]")
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    command = _cli_command(params, tmp_path, "--sweep", "together")
    processes = [
        subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], outputs
    done = sum(int(re.search(r"(\d+) done", out)[1]) for out in outputs)
    fresh = sum(int(re.search(r"(\d+) up to date", out)[1]) for out in outputs)
    assert (done, fresh) == (4, 12), outputs  # 4 cells, each computed by exactly one process
    client = MlflowClient(tracking_uri=uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == "distrackted"]
    parents = client.search_runs([experiment.experiment_id], filter_string="tags.`distrack.sweep` = 'together'")
    assert len(parents) == 1
    assert count_cell_runs(TrackingTarget(uri, experiment.experiment_id, parents[0].info.run_id)) == 4


def test_an_unreachable_tracking_server_fails_at_once_naming_it(tmp_path):
    port = _free_port()  # nothing listens there
    params = _params(tmp_path, techniques="[prototype]")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}
    finished = subprocess.run(
        _cli_command(params, tmp_path), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 2
    (line,) = finished.stderr.strip().splitlines()
    assert f"MLflow tracking server http://127.0.0.1:{port} is unreachable" in line and "--no-tracking" in line
    assert not (tmp_path / "results").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination",
        str(tmp_path / "server-artifacts"),
    ]
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not start:\n" + (tmp_path / "server.log").read_text())
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_four_workers_log_every_run_to_a_live_mlflow_server(tmp_path, monkeypatch, mlflow_server):
    monkeypatch.chdir(tmp_path)
    params = _params(tmp_path, techniques=EIGHT_CELLS, ipc="[1]")
    result = _run(tmp_path, params, "-j", "4", env={"MLFLOW_TRACKING_URI": mlflow_server})
    assert result.exit_code == 0, result.output
    assert "4 done" in result.output
    _assert_all_runs_logged(mlflow_server, result.output, 4)
    assert not (tmp_path / "mlflow.db").exists(), "with a server, nothing is written to the embedded store"


def test_submitit_local_executor_runs_the_cells(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = _params(tmp_path, techniques="[prototype]")
    result = _run(tmp_path, params, "--no-tracking", "--executor", "submitit-local", "-j", "2")
    assert result.exit_code == 0, result.output
    assert "2 done" in result.output
    assert len(list((tmp_path / "results" / "tiny" / "synthetic").glob("*/*.json"))) == 2
    assert list((tmp_path / "outputs" / "submitit").rglob("*_result.pkl")), "submitit wrote its job results"


def test_periodic_validation_is_logged_and_leaves_the_set_unchanged(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    params = _params(tmp_path, techniques="[dm]", iterations=4)
    result = _run(tmp_path, params, "--validation-checks", "2", env={"MLFLOW_TRACKING_URI": uri})
    assert result.exit_code == 0, result.output
    set_path = tmp_path / "outputs" / "sets" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.safetensors"
    history = json.loads(set_path.with_suffix(".json").read_text())["validation_history"]
    assert [step for step, _ in history] == [2, 4]
    assert all(0.0 <= accuracy <= 1.0 for _, accuracy in history)

    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs(
        [client.get_run(_parent_of(result.output)).info.experiment_id], filter_string="tags.technique = 'dm'"
    )
    logged = client.get_metric_history(run.info.run_id, "distill_validation_accuracy")
    assert sorted((m.step, m.value) for m in logged) == [(s, pytest.approx(a)) for s, a in history]

    monitored = load_set(set_path).x
    plain = tmp_path / "plain"
    again = CliRunner().invoke(
        cli,
        [
            *("--params", str(params), "--cache-dir", str(tmp_path / "cache"), "-q", "run", "--no-tracking"),
            *("--validation-checks", "0", "--outputs", str(plain / "outputs"), "--results", str(plain / "results")),
        ],
    )
    assert again.exit_code == 0, again.output
    assert torch.equal(load_set(plain / set_path.relative_to(tmp_path)).x, monitored)


def _mtime(path: Path) -> int:
    return path.stat().st_mtime_ns


def test_changing_the_protocol_re_runs_evaluation_only(tmp_path):
    """The set key covers no evaluation input: more epochs re-evaluate the training-based tracks, never
    re-distil, and keep the nearest-mean score (which does not train) as it was."""
    params = _params(tmp_path)
    assert _run(tmp_path, params, "--no-tracking").exit_code == 0
    set_path = tmp_path / "outputs" / "sets" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.safetensors"
    record_path = tmp_path / "results" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.json"
    before, written = json.loads(record_path.read_text()), _mtime(set_path)
    params.write_text(params.read_text().replace("protocol: {epochs: 30,", "protocol: {epochs: 31,"))
    dry = _run(tmp_path, params, "--dry-run")
    assert "stale: convnet" in dry.output and "2 stale: convnet" in dry.output, dry.output
    again = _run(tmp_path, params, "--no-tracking")
    assert "2 done, 0 up to date" in again.output, again.output
    after = json.loads(record_path.read_text())
    assert _mtime(set_path) == written, "the set was distilled again"
    assert after["results"]["convnet"]["params"]["epochs"] == 31 != before["results"]["convnet"]["params"]["epochs"]
    assert after["results"]["nearest-mean"] == before["results"]["nearest-mean"]
    assert after["evaluated_set"]["content_key"] == before["evaluated_set"]["content_key"]


def test_adding_a_track_evaluates_only_the_new_track(tmp_path):
    params = _params(tmp_path, tracks="[convnet]")
    assert _run(tmp_path, params, "--no-tracking").exit_code == 0
    record_path = tmp_path / "results" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.json"
    set_path = tmp_path / "outputs" / "sets" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.safetensors"
    before, written = json.loads(record_path.read_text()), _mtime(set_path)
    params.write_text(params.read_text().replace("tracks: [convnet]}", "tracks: [convnet, cross-arch]}"))
    assert "2 stale: cross-arch" in _run(tmp_path, params, "--dry-run").output
    added = _run(tmp_path, params, "--no-tracking")
    assert "2 done" in added.output, added.output
    after = json.loads(record_path.read_text())
    assert after["results"]["convnet"] == before["results"]["convnet"]  # kept, not re-trained
    cross = after["results"]["cross-arch"]
    assert cross["seeds"] == [0] and set(cross["metrics"]) == {
        "test_accuracy",
        "test_accuracy/mlp",
        "validation_accuracy",
        "validation_accuracy/mlp",
    }
    assert cross["metrics"]["test_accuracy"] == cross["metrics"]["test_accuracy/mlp"]  # the mean of one
    assert _mtime(set_path) == written
    assert "0 done, 2 up to date" in _run(tmp_path, params, "--no-tracking").output


def test_a_grid_of_other_tracks_keeps_the_records_results_and_a_new_set_drops_them(tmp_path):
    """A grid file that runs one more track over committed cells adds its results; it must not wipe the results
    of the tracks it does not list (they belong to the same set). A re-distilled set takes none of them along."""
    params = _params(tmp_path, references="[]")
    assert _run(tmp_path, params, "--no-tracking").exit_code == 0
    record_path = tmp_path / "results" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.json"
    before = json.loads(record_path.read_text())["results"]
    params.write_text(params.read_text().replace("tracks: [convnet, nearest-mean]}", "tracks: [cross-arch]}"))
    assert "1 stale: cross-arch" in _run(tmp_path, params, "--dry-run").output
    assert "1 done" in _run(tmp_path, params, "--no-tracking").output
    after = json.loads(record_path.read_text())["results"]
    assert set(after) == {"convnet", "nearest-mean", "cross-arch"}
    assert {name: after[name] for name in before} == before
    params.write_text(params.read_text().replace("iterations: 3", "iterations: 4"))
    assert "1 done" in _run(tmp_path, params, "--no-tracking").output
    assert set(json.loads(record_path.read_text())["results"]) == {"cross-arch"}


def test_track_ipc_scores_a_track_only_at_the_chosen_ipc_and_keeps_its_results_elsewhere(tmp_path):
    """``--track-ipc`` (dvc.yaml's shift=10): the track is skipped at other IPC values, and a record rewritten
    there for another track keeps the skipped track's result while its key is current."""
    params = _params(tmp_path, ipc="[1, 2]", references="[]")
    first = _run(tmp_path, params, "--no-tracking", "--track-ipc", "convnet=2")
    assert first.exit_code == 0, first.output
    records = tmp_path / "results" / "tiny" / "synthetic" / "dm"
    assert set(json.loads((records / "dm-ipc1-seed0.json").read_text())["results"]) == {"nearest-mean"}
    assert set(json.loads((records / "dm-ipc2-seed0.json").read_text())["results"]) == {"convnet", "nearest-mean"}
    assert "1 stale: convnet, 1 up to date" in _run(tmp_path, params, "--dry-run").output
    assert "0 done, 2 up to date" in _run(tmp_path, params, "--no-tracking", "--track-ipc", "convnet=2").output
    assert _run(tmp_path, params, "--no-tracking").exit_code == 0  # now convnet at IPC 1 too
    before = json.loads((records / "dm-ipc1-seed0.json").read_text())
    params.write_text(params.read_text().replace("protocol: {epochs: 30,", "protocol: {epochs: 31,"))
    again = _run(tmp_path, params, "--no-tracking", "--track-ipc", "nearest-mean=2")
    assert "2 done" in again.output, again.output
    after = json.loads((records / "dm-ipc1-seed0.json").read_text())
    assert after["results"]["convnet"]["params"]["epochs"] == 31
    assert after["results"]["nearest-mean"] == before["results"]["nearest-mean"]  # kept, though not scored here


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("shfit=10", "unknown track 'shfit' (did you mean 'shift'?)"),
        ("convnet=x", "must be integers"),
        ("convnet", "expected TRACK=IPC"),
        ("convnet=0", "at least 1"),
    ],
)
def test_track_ipc_refuses_bad_values_in_one_line(tmp_path, value, message):
    result = _run(tmp_path, _params(tmp_path), "--dry-run", "--track-ipc", value)
    assert result.exit_code == 2 and message in result.output, result.output


def test_a_set_with_the_records_tensors_under_its_key_is_the_records_set_and_other_items_are_not(tmp_path):
    """A set file embeds the key it was made under: after a re-key, the set re-derived by today's code has other
    bytes than the record's ``sha256`` names and the same tensors; that is the record's set, other items are not."""
    from bench.sets.files import save_set

    params = _params(tmp_path, references="[]")
    assert _run(tmp_path, params, "--no-tracking").exit_code == 0
    set_path = tmp_path / "outputs" / "sets" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.safetensors"
    record_path = tmp_path / "results" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.json"
    before = record_path.read_bytes()
    labelled = load_set(set_path)
    labelled.metadata["content_key"] = "a key of an older definition"
    save_set(set_path, labelled)
    assert "up to date" in _run(tmp_path, params, "--dry-run").output.splitlines()[-1]
    labelled.x = labelled.x + 1.0
    save_set(set_path, labelled)
    assert "set file differs from its record" in _run(tmp_path, params, "--dry-run").output
    # the set gone and convnet stale: distilled again under the same key, the same tensors, so the record's
    # nearest-mean result stands as it was and only convnet is computed
    set_path.unlink()
    params.write_text(params.read_text().replace("protocol: {epochs: 30,", "protocol: {epochs: 31,"))
    again = _run(tmp_path, params, "--no-tracking")
    assert "1 done" in again.output, again.output
    first, after = json.loads(before), json.loads(record_path.read_text())
    assert after["results"]["nearest-mean"] == first["results"]["nearest-mean"]
    assert after["results"]["convnet"]["params"]["epochs"] == 31


def test_restore_sets_re_derives_a_records_set_into_the_grid_layout_and_refuses_other_items(tmp_path):
    params = _params(tmp_path, references="[random]")
    assert _run(tmp_path, params, "--no-tracking").exit_code == 0
    records = tmp_path / "results" / "tiny" / "synthetic"
    sets = tmp_path / "outputs" / "sets" / "tiny" / "synthetic" / "dm"
    original = (sets / "dm-ipc1-seed0.safetensors").read_bytes()
    base = ["--params", str(params), "--cache-dir", str(tmp_path / "cache"), "-q", "reproduce"]
    into = tmp_path / "restored"
    chosen = [str(records / "dm" / "dm-ipc1-seed0.json"), str(records / "random" / "random-ipc1-seed0.json")]
    result = CliRunner().invoke(cli, [*base, "--restore-sets", str(into), *chosen])
    assert result.exit_code == 0, result.output
    assert " restored " in result.output and "not stored" in result.output, result.output
    restored = into / "sets" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.safetensors"
    assert restored.read_bytes() == original and restored.with_suffix(".json").is_file()
    again = CliRunner().invoke(cli, [*base, "--restore-sets", str(into), chosen[0]])
    assert again.exit_code == 0 and " present" in again.output, again.output
    record = json.loads(Path(chosen[0]).read_text())
    record["evaluated_set"]["sha256"] = record["evaluated_set"]["tensor_sha256"] = "0" * 64  # not today's set
    Path(chosen[0]).write_text(json.dumps(record))
    elsewhere = tmp_path / "elsewhere"
    refused = CliRunner().invoke(cli, [*base, "--restore-sets", str(elsewhere), "--threads", "1", chosen[0]])
    assert refused.exit_code == 1 and "other items with 1 thread(s)" in refused.output, refused.output
    assert not elsewhere.exists()
    bad = CliRunner().invoke(cli, [*base, "--restore-sets", str(elsewhere), "--threads", "two", chosen[0]])
    assert bad.exit_code == 2 and "--threads: expected thread counts" in bad.output, bad.output


def test_a_set_file_cut_short_is_never_up_to_date(tmp_path):
    params = _params(tmp_path, references="[]")
    assert _run(tmp_path, params, "--no-tracking").exit_code == 0
    set_path = tmp_path / "outputs" / "sets" / "tiny" / "synthetic" / "dm" / "dm-ipc1-seed0.safetensors"
    set_path.write_bytes(set_path.read_bytes()[:1000])
    assert "set file differs from its record" in _run(tmp_path, params, "--dry-run").output
    rerun = _run(tmp_path, params, "--no-tracking")
    assert "1 done, 0 up to date" in rerun.output, rerun.output
    assert load_set(set_path).x.shape[0] == 4


def test_the_full_training_set_is_a_reference_row_without_ipc(tmp_path):
    params = _params(tmp_path, techniques="[]", references="[full]", ipc="[1, 2]", tracks="[nearest-mean]")
    result = _run(tmp_path, params, "--no-tracking")
    assert "1 done" in result.output, result.output
    record = json.loads((tmp_path / "results" / "tiny" / "synthetic" / "full" / "full.json").read_text())
    assert record["evaluated_set"]["ipc"] is None and record["evaluated_set"]["num_items"] == 64
    assert record["evaluated_set"]["source"] == "reference:full" and "budget" not in record["evaluated_set"]


def test_reproduce_re_derives_a_cell_bit_for_bit_and_catches_a_changed_number(tmp_path):
    params = _params(tmp_path, techniques="[dm]", references="[random]")
    assert _run(tmp_path, params, "--no-tracking").exit_code == 0
    records = sorted((tmp_path / "results" / "tiny" / "synthetic").glob("*/*.json"))
    base = ["--params", str(params), "--cache-dir", str(tmp_path / "cache"), "-q", "reproduce"]
    same = CliRunner().invoke(cli, [*base, *map(str, records)])
    assert same.exit_code == 0, same.output
    assert same.output.count(" yes") == 2 and "convnet =" in same.output and "nearest-mean =" in same.output
    record = json.loads(records[0].read_text())
    record["results"]["convnet"]["metrics"]["test_accuracy"]["per_seed"][0] += 0.001
    records[0].write_text(json.dumps(record))
    changed = CliRunner().invoke(cli, [*base, str(records[0]), "--track", "convnet"])
    assert changed.exit_code == 1 and "convnet ≠" in changed.output and " NO" in changed.output


def test_a_reference_row_without_a_set_is_scored_where_a_track_knows_it_and_not_applicable_elsewhere(tmp_path):
    """zero-shot has no set; with no track that scores it on this dataset the cell is 'not applicable', never
    failed, and its (empty) folder exists beside the others (the DVC stage's output is the dataset's folder)."""
    params = _params(tmp_path, techniques="[]", references="[zero-shot]", tracks="[convnet]")
    result = _run(tmp_path, params, "--no-tracking")
    assert result.exit_code == 0 and "0 done, 1 up to date, 0 failed" in result.output, result.output
    assert "not applicable" in _run(tmp_path, params, "--dry-run").output
    folder = tmp_path / "results" / "tiny" / "synthetic" / "zero-shot"
    assert folder.is_dir() and not any(folder.iterdir())


def test_a_grid_file_supplies_only_the_grid_and_every_other_setting_comes_from_params(tmp_path):
    params = _params(tmp_path, references="[]", tracks="[nearest-mean]")
    grid = tmp_path / "ablation.yaml"  # no profiles, datasets or techniques sections: --params has them
    grid.write_text(
        "grid: {profile: tiny, datasets: [synthetic], techniques: [herding], references: [], ipc: [2],\n"
        "       seeds: [0], tracks: [nearest-mean]}\n"
    )
    result = _run(tmp_path, params, "--no-tracking", "--grid", str(grid))
    assert result.exit_code == 0 and "1 done" in result.output, result.output
    assert (tmp_path / "results" / "tiny" / "synthetic" / "herding" / "herding-ipc2-seed0.json").is_file()
    assert not (tmp_path / "results" / "tiny" / "synthetic" / "dm").exists()  # params.yaml's own grid: not run


def test_a_sweep_loads_each_dataset_once_and_a_warm_cache_extracts_nothing(tmp_path, monkeypatch):
    """Issue #22: every cell of a sweep (its key, distillation, each track) shares one load of the features;
    a second sweep reads them from the cache without extracting any audio."""
    import bench.features.store as store
    import bench.session as session

    calls = {"load": 0, "extract": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(session, "load_feature_set", counted("load", session.load_feature_set))
    monkeypatch.setattr(store, "_extract", counted("extract", store._extract))
    params = _params(tmp_path)
    first = _run(tmp_path, params, "--no-tracking")
    assert "2 done" in first.output, first.output
    assert calls == {"load": 1, "extract": 1}
    params.write_text(params.read_text().replace("dm: {iterations: 3}", "dm: {iterations: 4}"))
    calls.update(load=0, extract=0)
    again = _run(tmp_path, params, "--no-tracking")
    assert "1 done, 1 up to date" in again.output, again.output
    assert calls == {"load": 1, "extract": 0}


def test_rekey_moves_proven_records_to_the_current_key_definition_and_leaves_stale_ones(tmp_path):
    """Records keyed under definition 1 look missing under definition 2; `records rekey` proves each (its
    old keys recomputed from today's code and params) and rewrites only the keys; a record whose params
    changed since fails the proof and is left for `distrack run` to recompute."""
    from bench.provenance import key_definition

    params = _params(tmp_path, techniques="[dm, dsa]", references="[]")
    params.write_text(params.read_text().replace("dm: {iterations: 3}", "dm: {iterations: 3}, dsa: {iterations: 3}"))
    with key_definition(1):
        assert "2 done" in _run(tmp_path, params, "--no-tracking").output
    records = sorted((tmp_path / "results").rglob("*.json"))
    before = {path: json.loads(path.read_text()) for path in records}
    assert _run(tmp_path, params, "--dry-run").output.strip().endswith("2 missing")

    params.write_text(params.read_text().replace("dsa: {iterations: 3}", "dsa: {iterations: 2}"))
    base = ["--params", str(params), "--cache-dir", str(tmp_path / "cache"), "-q", "records", "rekey"]
    where = ["--results", str(tmp_path / "results"), "--outputs", str(tmp_path / "outputs"), "--from-definition", "1"]
    check = CliRunner().invoke(cli, [*base, *where, "--check"])
    assert check.exit_code == 1 and "would re-key 1 record(s) and 1 set sidecar(s)" in check.output, check.output
    assert {path: json.loads(path.read_text()) for path in records} == before  # --check writes nothing

    done = CliRunner().invoke(cli, [*base, *where])
    assert done.exit_code == 0 and "re-keyed 1 record(s)" in done.output and "1 left alone" in done.output
    assert "dsa-ipc1-seed0.json: stale under definition 1 too: set" in done.output
    dry = _run(tmp_path, params, "--dry-run").output
    assert re.search(r"dm\s+1\s+0\s+up to date", dry) and re.search(r"dsa\s+1\s+0\s+missing", dry), dry
    for path in records:
        after = json.loads(path.read_text())
        if "dm" in path.name:  # only the keys moved
            assert after["evaluated_set"]["content_key"] != before[path]["evaluated_set"]["content_key"]
            for entry in (after, before[path]):
                entry["evaluated_set"].pop("content_key")
                for result in entry["results"].values():
                    result.pop("key")
        assert after == before[path]


def test_a_teacher_using_result_is_keyed_by_the_thread_count_its_teacher_trains_with(tmp_path):
    """A CPU teacher trained with another thread count sums in another order, so it is another teacher (and a
    change of the profile's recipe retrains it): from key definition 3 the set keys of teacher-using techniques
    and the keys of teacher-reading tracks cover both. Nothing else moves with the thread count."""
    from bench.evaluation.tracks.configure import build_track
    from bench.pipeline.keys import set_key, track_key
    from bench.provenance import key_definition
    from bench.session import Session

    params = _params(tmp_path)
    session = Session(params, None, None, tmp_path / "cache", "cpu", progress=False, dataset_dirs={})
    frami, dm = GridCell("synthetic", "frami", 1, 0), GridCell("synthetic", "dm", 1, 0)

    def keys(threads: int) -> dict[str, str]:
        with cpu_threads(threads):
            sets = {"frami": set_key(session, frami), "dm": set_key(session, dm)}
            tracks = {name: track_key(sets["dm"], build_track(session, name)) for name in ("kd", "convnet")}
            return {**sets, **tracks}

    one, two = keys(1), keys(2)
    assert [name for name in one if one[name] != two[name]] == ["frami", "kd"]
    recipe = params.read_text().replace("batch_size: 64}", "batch_size: 32}")
    (tmp_path / "recipe.yaml").write_text(recipe)
    other = Session(tmp_path / "recipe.yaml", None, None, tmp_path / "cache", "cpu", progress=False, dataset_dirs={})
    assert set_key(other, frami) != set_key(session, frami)
    with key_definition(2):
        assert keys(1) == keys(2)
