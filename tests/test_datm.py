"""DATM: with its three changes off it is MTT bit for bit; each change moves the result; windows follow the IPC
and the expansion schedule; soft labels travel with the set; impossible windows are refused by name."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from bench.cli import cli
from bench.errors import UserError
from bench.techniques import Budget, DistillContext, get_technique
from bench.techniques.datm import Window, window_for
from tests.test_techniques import CPU, ITERATIONS, MODEL, TINY, run, synthetic  # noqa: F401 (synthetic: a fixture)

WINDOWS = {1: [0, 0, 1], 2: [1, 1, 1]}


def _datm(features, ipc, seed, tmp_path, **params):
    cls = get_technique("datm")
    technique = cls(cls.configure("tiny", {**TINY["mtt"], **params}), DistillContext(model=MODEL, cache_dir=tmp_path))
    return technique.run(features, ipc, seed, Budget(ITERATIONS["mtt"]), CPU)


def test_datm_with_every_change_off_is_mtt(synthetic, tmp_path):  # noqa: F811
    off = _datm(synthetic, 2, 0, tmp_path)
    mtt = run("mtt", synthetic, 2, 0, tmp_path)  # same cache: the same experts
    assert torch.equal(off.x, mtt.x) and off.history == mtt.history and off.lr == mtt.lr and off.soft is None


def test_each_change_moves_the_result_and_the_seed_is_followed(synthetic, tmp_path):  # noqa: F811
    off = _datm(synthetic, 2, 0, tmp_path)
    windowed = _datm(synthetic, 2, 0, tmp_path, windows=WINDOWS)
    correct = _datm(synthetic, 2, 0, tmp_path, init="correct")
    soft = _datm(synthetic, 2, 0, tmp_path, soft_labels=True)
    for changed in (windowed, correct, soft):
        assert not torch.equal(changed.x, off.x)
        assert changed.y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert torch.equal(_datm(synthetic, 2, 0, tmp_path, soft_labels=True).x, soft.x)
    assert not torch.equal(_datm(synthetic, 2, 1, tmp_path, soft_labels=True).x, soft.x)
    assert soft.soft is not None and soft.soft.shape == (8, 4)
    assert torch.allclose(soft.soft.sum(1), torch.ones(8))
    assert soft.to_labelled().labels != off.to_labelled().labels  # the set says it carries soft labels


def test_windows_follow_the_ipc_and_grow_over_the_expansion():
    cls = get_technique("datm")
    params = cls.configure("tiny", {"windows": {"1": [0, 2, 4], 10: [2, 4, 8]}, "expert_train_epochs": 10})
    assert window_for(params, 1, 100) == Window(0, 2, 4, 50)
    assert window_for(params, 9, 100).high == 4 and window_for(params, 50, 100).low == 2
    upper = [Window(2, 4, 8, 40).upper(i) for i in (0, 10, 20, 39, 40, 99)]
    assert upper == [4, 5, 6, 7, 8, 8]
    assert window_for(cls.configure("tiny", {}), 10, 100) == Window(0, 10, 10, 50)  # none: MTT's window


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        ({1: [0, 1, 5]}, r"IPC 1 starts up to epoch 5, \+ expert_epochs \(2\) exceeds expert_train_epochs \(3\)"),
        ({1: [2, 1, 1]}, r"IPC 1 needs 0 <= min <= initial_max <= max, got \[2, 1, 1\]"),
        ({1: [0, 1]}, r"windows\.1: expected \[min, initial_max, max\] start epochs"),
        ({"one": [0, 0, 0]}, r"windows: keys are IPC values"),
    ],
)
def test_an_impossible_window_is_refused_by_name(synthetic, tmp_path, windows, message):  # noqa: F811
    with pytest.raises(UserError, match=message):
        _datm(synthetic, 1, 0, tmp_path, windows=windows)


def test_validate_passes_datm():
    args = ["validate", "datm", "--iterations", "3", *(f"--param={k}={v}" for k, v in TINY["mtt"].items())]
    result = CliRunner().invoke(cli, [*args, "--param=soft_labels=true", "--param=windows={1: [0, 0, 1]}"])
    assert result.exit_code == 0, result.output
    assert "datm: all checks passed" in result.output and "PASS  resume" in result.output


def test_artefacts_build_experts_serves_every_trajectory_technique_once_per_expert_setting(tmp_path):
    from tests.conftest import TINY_PARAMS

    experts = "{num_experts: 1, expert_train_epochs: 2, max_start_epoch: 0, expert_epochs: 1}"
    names = ("mtt", "mtt-lean", "datm", "datm-soft")
    text = TINY_PARAMS + "techniques:\n" + "".join(f"  {name}: {experts}\n" for name in names)
    (tmp_path / "params.yaml").write_text(text)
    args = ["--params", str(tmp_path / "params.yaml"), "--cache-dir", str(tmp_path / "cache"), "-q"]
    shared = CliRunner().invoke(cli, [*args, "artefacts", "build", "experts", "--dataset", "synthetic"])
    assert shared.exit_code == 0, shared.output
    assert shared.output.count("1 expert(s), 2 epochs each") == 1, shared.output  # one setting, one folder
    (tmp_path / "params.yaml").write_text(text.replace("datm: {num_experts: 1", "datm: {num_experts: 2"))
    apart = CliRunner().invoke(cli, [*args, "artefacts", "build", "experts", "--dataset", "synthetic"])
    assert apart.exit_code == 0, apart.output
    assert "1 expert(s)" in apart.output and "2 expert(s)" in apart.output, apart.output
    assert len(list((tmp_path / "cache" / "experts").iterdir())) == 2


def test_datm_soft_is_datm_with_learned_soft_labels_under_its_own_name(synthetic, tmp_path):  # noqa: F811
    cls = get_technique("datm-soft")
    technique = cls(cls.configure("tiny", TINY["mtt"]), DistillContext(model=MODEL, cache_dir=tmp_path))
    own = technique.run(synthetic, 2, 0, Budget(ITERATIONS["mtt"]), CPU)
    datm = _datm(synthetic, 2, 0, tmp_path, soft_labels=True)
    assert torch.equal(own.x, datm.x) and own.soft is not None and torch.equal(own.soft, datm.soft)
    assert own.to_labelled().metadata["technique"] == "datm-soft"


def test_artefacts_build_experts_for_grid_trains_only_the_grid_techniques_experts(tmp_path):
    from tests.conftest import TINY_PARAMS

    experts = "{num_experts: 1, expert_train_epochs: 2, max_start_epoch: 0, expert_epochs: 1}"
    text = (
        TINY_PARAMS + f"techniques:\n  mtt: {experts}\n  datm: {experts.replace('num_experts: 1', 'num_experts: 2')}\n"
    )
    grid = "grid: {{profile: tiny, datasets: [synthetic], techniques: [{}], ipc: [1]}}\n"
    args = ["--params", str(tmp_path / "params.yaml"), "--cache-dir", str(tmp_path / "cache"), "-q"]
    build = [*args, "artefacts", "build", "experts", "--dataset", "synthetic", "--for-grid"]
    (tmp_path / "params.yaml").write_text(text + grid.format("dm, herding"))
    none = CliRunner().invoke(cli, build)
    assert none.exit_code == 0 and "nothing to build" in none.output, none.output
    assert (tmp_path / "cache" / "experts").is_dir() and not list((tmp_path / "cache" / "experts").iterdir())
    (tmp_path / "params.yaml").write_text(text + grid.format("dm, mtt"))
    mtt = CliRunner().invoke(cli, build)
    assert mtt.exit_code == 0 and "1 expert(s)" in mtt.output and "2 expert(s)" not in mtt.output, mtt.output
    assert len(list((tmp_path / "cache" / "experts").iterdir())) == 1  # not datm's setting
