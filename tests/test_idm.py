"""IDM: partitioned items decode through the set's decoder, the pool follows the seed, every improvement off
is DM bit for bit, and the impossible requests are refused by name."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from bench.cli import cli
from bench.errors import UserError
from bench.sets.decoders import Decoder
from bench.sets.items import training_items
from bench.techniques import Budget, DistillContext, get_technique
from bench.techniques.idm import squeeze_segments
from tests.test_techniques import CPU, MODEL, run, synthetic  # noqa: F401 (synthetic: a fixture)

SMALL_POOL = {"pool_steps": 6, "pool_snapshot_every": 3, "pool_batch": 16}


def _idm(features, ipc, seed, tmp_path, iterations=8, **params):
    cls = get_technique("idm")
    technique = cls(cls.configure("tiny", {**SMALL_POOL, **params}), DistillContext(model=MODEL, cache_dir=tmp_path))
    return technique.run(features, ipc, seed, Budget(iterations), CPU)


def test_squeezed_segments_decode_back_to_the_clips_they_came_from():
    frames = torch.arange(16, dtype=torch.float32)
    clips = torch.stack([(k + 1) * frames + k for k in range(6)]).reshape(6, 1, 1, 16).expand(6, 1, 4, 16)
    stored = squeeze_segments(clips, 2)  # linear in time, so squeezing and stretching are exact
    assert stored.shape == (3, 1, 4, 16)
    decoded = Decoder.from_spec({"name": "time-segments", "factor": 2}, "test").decode(stored)
    assert torch.allclose(decoded, clips, atol=1e-4)


def test_idm_stores_factor_segments_per_item_and_follows_its_seed(synthetic, tmp_path):  # noqa: F811
    first = _idm(synthetic, 2, 0, tmp_path, factor=2)
    assert first.x.shape == (8, 1, 16, 16) and first.y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert first.decoder == {"name": "time-segments", "factor": 2}
    assert len(first.history) == 8 and all(torch.isfinite(torch.tensor(first.history)))
    items = training_items(first.to_labelled(), synthetic.params, 0.0, 1.0)
    assert items.x.shape == (16, 1, 16, 16) and items.y.tolist() == [c for c in range(4) for _ in range(4)]
    assert torch.equal(_idm(synthetic, 2, 0, tmp_path, factor=2).x, first.x)
    assert not torch.equal(_idm(synthetic, 2, 1, tmp_path, factor=2).x, first.x)
    # the pool and the class-aware term change the result: they are not decoration
    no_pool = _idm(synthetic, 2, 0, tmp_path, factor=2, pool_networks=0)
    no_ce = _idm(synthetic, 2, 0, tmp_path, factor=2, ce_weight=0.0)
    assert not torch.equal(no_pool.x, first.x) and not torch.equal(no_ce.x, first.x)


def test_idm_with_every_improvement_off_is_dm(synthetic, tmp_path):  # noqa: F811
    off = _idm(synthetic, 2, 0, tmp_path, iterations=12, factor=1, pool_networks=0, ce_weight=0.0, lr_img=1.0)
    dm = run("dm", synthetic, 2, 0, tmp_path)  # test_techniques runs dm for 12 iterations
    assert off.decoder is None
    assert torch.equal(off.x, dm.x) and off.history == dm.history


def test_idm_refuses_a_factor_the_clips_or_frames_cannot_give(synthetic, tmp_path):  # noqa: F811
    fewest = int(torch.bincount(synthetic.train.y).min())
    ipc = fewest // 4 + 1  # possible for dm, not with 4 real clips behind every item
    message = rf"IPC {ipc} x factor 4 needs {4 * ipc} real clips per class .* has {fewest}; lower the factor"
    with pytest.raises(UserError, match=message):
        _idm(synthetic, ipc, 0, tmp_path, factor=4)
    with pytest.raises(UserError, match="factor: 3 does not divide the items' 16 frames"):
        _idm(synthetic, 1, 0, tmp_path, factor=3)


def test_validate_passes_idm(tmp_path):
    args = ["validate", "idm", "--iterations", "3", *(f"--param={k}={v}" for k, v in SMALL_POOL.items())]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "idm: all checks passed" in result.output and "PASS  resume" in result.output
