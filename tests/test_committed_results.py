"""The board's promise, checked on every CI run: a committed record re-derives bit for bit from the repository's
code and the shared data (`distrack reproduce`), and the runner calls every committed cell up to date."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli import cli
from tests.conftest import REPO

RESULTS = REPO / "leaderboard" / "results" / "quick"
# A cheap committed cell (herding on fsdd at one item per class): its set is drawn from the real features and its
# ConvNet and nearest-mean numbers are recomputed from scratch, so a change to features, the technique or the
# protocol that moves a committed number fails here.
CHEAP_RECORD = RESULTS / "fsdd" / "herding" / "herding-ipc1-seed0.json"


@pytest.fixture
def cli_env(data_root: Path, models_root: Path) -> dict[str, str]:
    return {"DISTRACK_DATA_ROOT": str(data_root), "DISTRACK_MODELS_ROOT": str(models_root)}


def test_a_committed_cell_re_derives_bit_for_bit(cli_env, feature_cache):
    assert CHEAP_RECORD.is_file(), f"{CHEAP_RECORD} is no longer committed; pick another cheap cell"
    args = ["--cache-dir", str(feature_cache), "reproduce", str(CHEAP_RECORD), "--track", "convnet"]
    result = CliRunner(env=cli_env).invoke(cli, [*args, "--track", "nearest-mean"])
    assert result.exit_code == 0, result.output
    assert "convnet =" in result.output and "nearest-mean =" in result.output and " yes" in result.output


def test_every_committed_cell_is_up_to_date_under_todays_code(cli_env, feature_cache, monkeypatch):
    """`distrack run --dry-run` over the committed grid: nothing to distil, nothing to evaluate. A code change that
    alters a content key without re-deriving the records turns this red."""
    monkeypatch.chdir(REPO)
    result = CliRunner(env=cli_env).invoke(cli, ["--cache-dir", str(feature_cache), "run", "--dry-run"])
    assert result.exit_code == 0, result.output
    summary = result.output.strip().splitlines()[-1]
    labels = {part.split(" ", 1)[1] for part in summary.split(", ")}
    assert labels <= {"up to date", "not applicable"}, result.output
