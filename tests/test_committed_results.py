"""The board's promise, checked on every CI run: a committed record re-derives bit for bit from the repository's
code and the shared data (`distrack reproduce`), and the runner calls every committed cell up to date."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bench.cli import cli
from bench.device import cpu_threads
from tests.conftest import REPO

RESULTS = REPO / "leaderboard" / "results" / "quick"
BOARD_THREADS = 2  # the CPU threads the committed board ran with (each record's cost.device)
# Three cheap committed cells, each recomputed from scratch (set distilled or drawn again, then scored), so a change
# to features, a technique or a track that moves a committed number fails here: a coreset on spoken digits, a
# gradient-based technique (dm, its tensors compared too) on sound events, and the random reference row on music.
CHEAP_CELLS = [
    ("fsdd/herding/herding-ipc1-seed0.json", ("convnet", "nearest-mean")),
    ("esc10/dm/dm-ipc1-seed0.json", ("convnet", "nearest-mean")),
    ("philharmonia/random/random-ipc1-seed0.json", ("convnet", "probe-mfcc")),
]


@pytest.fixture
def cli_env(data_root: Path, models_root: Path) -> dict[str, str]:
    return {"DISTRACK_DATA_ROOT": str(data_root), "DISTRACK_MODELS_ROOT": str(models_root)}


@pytest.mark.parametrize(("record", "tracks"), CHEAP_CELLS, ids=[cell[0].split("/")[0] for cell in CHEAP_CELLS])
def test_a_committed_cell_re_derives_bit_for_bit(cli_env, feature_cache, record, tracks):
    path = RESULTS / record
    assert path.is_file(), f"{path} is no longer committed; pick another cheap cell"
    track_args = [arg for track in tracks for arg in ("--track", track)]
    result = CliRunner(env=cli_env).invoke(
        cli, ["--cache-dir", str(feature_cache), "reproduce", str(path), *track_args]
    )
    assert result.exit_code == 0, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.split()[2] == "=" and line.endswith(" yes"), result.output  # the set, then every track's numbers
    assert all(f"{track} =" in line for track in tracks), result.output


def test_distrack_run_scores_tracks_at_the_ipc_values_dvc_repro_does():
    """`distrack run` and `dvc repro` must agree on what is up to date: the CLI's default --track-ipc is the
    sweep setting dvc.yaml passes."""
    from bench.cli.run_cmd import DEFAULT_TRACK_IPC

    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    track_ipc = next(v["sweep"]["track_ipc"] for v in pipeline["vars"] if "sweep" in v)
    assert (track_ipc,) == DEFAULT_TRACK_IPC


def test_every_committed_cell_is_up_to_date_under_todays_code(cli_env, feature_cache, monkeypatch):
    """A plain `distrack run --dry-run` over the committed grid (its defaults are dvc.yaml's sweep settings: the
    test above): nothing to distil, nothing to evaluate. A code change that alters a content key without
    re-deriving the records turns this red."""
    monkeypatch.chdir(REPO)
    # the board's teacher-using results were computed with 2 CPU threads, and their keys cover that count
    with cpu_threads(BOARD_THREADS):
        result = CliRunner(env=cli_env).invoke(cli, ["--cache-dir", str(feature_cache), "run", "--dry-run"])
    assert result.exit_code == 0, result.output
    summary = result.output.strip().splitlines()[-1]
    labels = {part.split(" ", 1)[1] for part in summary.split(", ")}
    assert labels <= {"up to date", "not applicable"}, result.output
