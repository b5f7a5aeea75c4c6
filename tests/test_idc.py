"""IDC: multi-formation items decode through the set's decoder, both changes off is DC (and DSA) bit for bit,
each change moves the result, the seed is followed, and impossible requests are refused by name."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from bench.cli import cli
from bench.errors import UserError
from bench.sets.items import training_items
from bench.techniques import Budget, DistillContext, get_technique
from tests.test_techniques import CPU, ITERATIONS, MODEL, TINY, run, synthetic  # noqa: F401 (synthetic: a fixture)

SMALL = {"batch_real": 16, "outer_loop": 2, "inner_loop": 2, "lr_img": 0.01, "batch_train": 8}


def _idc(features, ipc, seed, tmp_path, **params):
    cls = get_technique("idc")
    technique = cls(cls.configure("tiny", {**SMALL, **params}), DistillContext(model=MODEL, cache_dir=tmp_path))
    return technique.run(features, ipc, seed, Budget(3), CPU)


@pytest.mark.parametrize("twin", ["dc", "dsa"])
def test_idc_with_both_changes_off_is_gradient_matching(synthetic, tmp_path, twin):  # noqa: F811
    off = _idc(synthetic, 2, 0, tmp_path, factor=1, net_data="synthetic", augment=twin == "dsa", batch_train=256)
    reference = run(twin, synthetic, 2, 0, tmp_path)
    assert off.decoder is None
    assert torch.equal(off.x, reference.x) and off.history == reference.history


def test_idc_stores_factor_segments_per_item_and_follows_its_seed(synthetic, tmp_path):  # noqa: F811
    first = _idc(synthetic, 2, 0, tmp_path)
    assert first.x.shape == (8, 1, 16, 16) and first.y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert first.decoder == {"name": "time-segments", "factor": 2}
    items = training_items(first.to_labelled(), synthetic.params, 0.0, 1.0)
    assert items.x.shape == (16, 1, 16, 16) and items.y.tolist() == [c for c in range(4) for _ in range(4)]
    assert torch.equal(_idc(synthetic, 2, 0, tmp_path).x, first.x)
    assert not torch.equal(_idc(synthetic, 2, 1, tmp_path).x, first.x)
    # each change is not decoration: the synthetic-data network and factor 1 both move the result
    on_synthetic = _idc(synthetic, 2, 0, tmp_path, net_data="synthetic")
    assert not torch.equal(on_synthetic.x, first.x)
    whole = _idc(synthetic, 2, 0, tmp_path, factor=1)
    assert whole.decoder is None and whole.x.shape == (8, 1, 16, 16)


def test_idc_refuses_what_the_clips_or_frames_cannot_give(synthetic, tmp_path):  # noqa: F811
    fewest = int(torch.bincount(synthetic.train.y).min())
    ipc = fewest // 4 + 1
    with pytest.raises(UserError, match=rf"techniques.idc.factor: IPC {ipc} x factor 4 needs {4 * ipc} real clips"):
        _idc(synthetic, ipc, 0, tmp_path, factor=4)
    with pytest.raises(UserError, match="factor: 3 does not divide the items' 16 frames"):
        _idc(synthetic, 1, 0, tmp_path, factor=3)
    with pytest.raises(UserError, match=r"techniques.idc.net_data: expected one of real, synthetic, got 'both'"):
        _idc(synthetic, 1, 0, tmp_path, net_data="both")


def test_validate_passes_idc():
    args = ["validate", "idc", "--iterations", "2", *(f"--param={k}={v}" for k, v in SMALL.items())]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "idc: all checks passed" in result.output and "PASS  resume" in result.output
