"""The image literature's qualitative result, reproduced by our code on scikit-learn's 8x8 digits:
at IPC 1 and 10, dm, dsa and mtt each beat the random subset they start from (tiny budgets)."""

import dataclasses

import pytest
import torch

from bench.evaluation.protocol import evaluate_set
from bench.params import ProtocolParams
from benchmarks.digits import DIGITS_MODEL, OVERRIDES, digits_feature_set, distil

TEST_BUDGETS = {1: {"dm": 150, "dsa": 60, "mtt": 80}, 10: {"dm": 150, "dsa": 8, "mtt": 60}}
PROTOCOL = ProtocolParams(epochs=100, seeds=(0, 1, 2))


@pytest.fixture(scope="module")
def digits():
    return digits_feature_set()


def _accuracy(result, features):
    return evaluate_set(result.x, result.y, features, DIGITS_MODEL, PROTOCOL, torch.device("cpu"), result.lr).test_mean


@pytest.mark.parametrize("ipc", [1, 10])
def test_matching_techniques_beat_random(digits, tmp_path, ipc):
    baseline = _accuracy(distil("random", digits, ipc, None), digits)
    scores = {}
    for name, budget in TEST_BUDGETS[ipc].items():
        overrides = dict(OVERRIDES[name])
        if name == "mtt":
            overrides.update(num_experts=2, expert_train_epochs=8, max_start_epoch=5)
        scores[name] = _accuracy(distil(name, digits, ipc, budget, overrides=overrides, cache_dir=tmp_path), digits)
    assert all(score > baseline for score in scores.values()), (baseline, scores)


def test_digits_split_is_disjoint_and_standardised(digits):
    assert len(digits.train) + len(digits.validation) + len(digits.test) == 1797
    assert abs(float(digits.train.x.mean())) < 1e-5
    assert dataclasses.asdict(digits.params)["n_mels"] == 8
