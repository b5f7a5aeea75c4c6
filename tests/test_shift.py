"""Robustness under acoustic shift and test-time adaptation (issue 24)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from bench.cli import cli
from bench.errors import UserError
from bench.models import ModelSpec
from bench.shift.corruptions import CORRUPTIONS, check_corruptions, corrupt
from bench.shift.tta import LOSSES, adapt, norm_parameters
from tests.conftest import TINY_PARAMS


def _snr(clean: np.ndarray, noisy: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2)))


def test_noise_is_added_at_the_requested_snr_and_is_the_same_for_the_same_seed():
    wave = (0.3 * np.sin(2 * np.pi * 330 * np.arange(8000) / 8000)).astype(np.float32)
    for snr in (20.0, 5.0, 0.0):
        transform = CORRUPTIONS["noise"].build(snr, [])
        first, again = corrupt(transform, wave, 8000, seed=7), corrupt(transform, wave, 8000, seed=7)
        assert np.array_equal(first, again)
        assert abs(_snr(wave, first) - snr) < 0.5
        assert not np.array_equal(first, corrupt(transform, wave, 8000, seed=8))


def test_a_background_sound_is_mixed_in_at_the_requested_snr(tmp_path):
    import soundfile as sf

    rain = tmp_path / "rain.wav"
    sf.write(str(rain), np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1, 8000)
    wave = (0.3 * np.sin(2 * np.pi * 330 * np.arange(8000) / 8000)).astype(np.float32)
    mixed = corrupt(CORRUPTIONS["background"].build(10.0, [rain]), wave, 8000, seed=1)
    assert abs(_snr(wave, mixed) - 10.0) < 0.5
    assert np.array_equal(mixed, corrupt(CORRUPTIONS["background"].build(10.0, [rain]), wave, 8000, seed=1))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"nois": [10]}, r"unknown corruption 'nois' \(did you mean 'noise'\?\)"),
        ({"noise": [99]}, r"noise: severity 99 is out of range \[-10, 60\] \(SNR dB\)"),
        ({"pitch": []}, r"pitch: expected a list of severities"),
    ],
)
def test_unknown_corruptions_and_severities_out_of_range_are_refused(table, message):
    with pytest.raises(UserError, match=message):
        check_corruptions(table, "tracks.shift.corruptions")


def test_each_tta_loss_equals_its_formula_on_a_hand_computed_example():
    a = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    # entropy: row 1 -(0.5 ln 0.5) * 2 = ln 2, row 2 0: mean ln(2) / 2
    assert float(LOSSES["entropy"](a, 0.8)) == pytest.approx(np.log(2) / 2, rel=1e-6)
    # generalized entropy, q = 2: row 1 (1 - 0.5) / 1 = 0.5, row 2 (1 - 1) = 0: mean 0.25
    assert float(LOSSES["generalized-entropy"](a, 2.0)) == pytest.approx(0.25, rel=1e-6)
    # Frobenius: sqrt(0.25 + 0.25 + 1) = sqrt(1.5)
    assert float(LOSSES["frobenius-norm"](a, 0.8)) == pytest.approx(-np.sqrt(1.5), rel=1e-6)
    # nuclear: singular values of [[.5, .5], [1, 0]]: sum = sqrt(sum sq + 2|det|) = sqrt(1.5 + 1)
    assert float(LOSSES["nuclear-norm"](a, 0.8)) == pytest.approx(-np.sqrt(2.5), rel=1e-6)


def test_adaptation_changes_only_the_normalisation_parameters():
    model = ModelSpec.parse({"architecture": "convnet", "depth": 2, "width": 8}, "t").build((1, 16, 16), 3, seed=0)
    x = torch.randn(32, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    adapted = adapt(model, x, "entropy", steps=3, lr=0.5, batch=16, q=0.8)
    norms = {id(p) for p in norm_parameters(adapted)}
    assert norms
    for (name, before), after in zip(model.named_parameters(), adapted.parameters(), strict=True):
        if id(after) in norms:
            assert not torch.equal(before, after), f"{name} (a norm parameter) did not move"
        else:
            assert torch.equal(before, after), f"{name} changed though it is no norm parameter"


SHIFT_PARAMS = (
    TINY_PARAMS
    + """
tracks:
  shift:
    corruptions: {noise: [10], gain: [-12]}
    seeds: [0, 1]
    tta_steps: [1, 2]
    tta_lrs: [0.001, 0.05]
    tta_batch: 16
"""
)


def test_the_shift_track_scores_clean_and_corrupted_splits_and_tunes_tta_on_validation(tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    params.write_text(SHIFT_PARAMS)
    base = ["--params", str(params), "--cache-dir", str(tmp_path / "cache"), "-q", "evaluate", "--dataset", "synthetic"]
    cell = ["--reference", "random", "--ipc", "4", "--track", "shift"]
    result = CliRunner().invoke(cli, [*base, *cell, "--out", str(tmp_path / "a.json")])
    assert result.exit_code == 0, result.output
    shift = json.loads((tmp_path / "a.json").read_text())["results"]["shift"]
    metrics = {name: value["mean"] for name, value in shift["metrics"].items()}
    assert metrics["test_accuracy"] == pytest.approx(
        (metrics["test_accuracy/noise@10"] + metrics["test_accuracy/gain@-12"]) / 2
    )
    assert metrics["drop_from_clean"] == pytest.approx(metrics["clean_accuracy"] - metrics["test_accuracy"])
    assert set(shift["tta_chosen"]) == {*LOSSES, "best_loss"}
    # chosen once, with the first seed's network, and applied to both seeds' networks
    assert all(len(shift["tta_chosen"][name]) == 1 for name in shift["tta_chosen"])
    assert all(len(shift["metrics"][f"tta/{loss}"]["per_seed"]) == 2 for loss in LOSSES)
    best = shift["tta_chosen"]["best_loss"][0]["loss"]  # chosen on validation, reported on test
    assert metrics["tta_best_loss"] == pytest.approx(metrics[f"tta/{best}"])
    on_validation = {loss: shift["tta_chosen"][loss][0]["validation_accuracy"] for loss in LOSSES}
    assert on_validation[best] == max(on_validation.values())
    # The choice never looks at the test split: every split the choice receives is a shifted VALIDATION one
    # (tagged where it is made), and scrambling the test labels leaves the choice as it was.
    from bench.evaluation.tracks import shift as track_module

    made, seen = track_module.shifted_split, []

    def tagged(session, dataset, split, *args):
        tensors = made(session, dataset, split, *args)
        tensors.split_name = split
        if split == "test":
            order = torch.randperm(len(tensors.y), generator=torch.Generator().manual_seed(1))
            tensors.y = tensors.y[order]
        return tensors

    choose = track_module.choose_hyperparameters

    def watched(model, loss, validation, *args):
        seen.extend(split.split_name for split in validation)
        return choose(model, loss, validation, *args)

    monkeypatch.setattr(track_module, "shifted_split", tagged)
    monkeypatch.setattr(track_module, "choose_hyperparameters", watched)
    again = CliRunner().invoke(cli, [*base, *cell, "--out", str(tmp_path / "b.json")])
    assert again.exit_code == 0, again.output
    second = json.loads((tmp_path / "b.json").read_text())["results"]["shift"]
    assert seen and set(seen) == {"validation"}
    assert second["tta_chosen"] == shift["tta_chosen"]
    assert second["metrics"]["test_accuracy"] != shift["metrics"]["test_accuracy"]  # the test labels did change
