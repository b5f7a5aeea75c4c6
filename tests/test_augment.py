"""The audio-aware differentiable augmentation: each op does what it says, draws are reproducible, and
siamese use gives real and synthetic items the same transform."""

import pytest
import torch

from bench.techniques.augment import OPS, AugmentParams, apply, augment, draw
from bench.techniques.matching import siamese, siamese_op_per_sample, siamese_per_class


def _spectrograms(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 1, 16, 20, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("op", OPS)
def test_each_op_changes_the_input_and_is_differentiable(op):
    x = _spectrograms(4).requires_grad_(True)
    out = augment(x, AugmentParams(ops=(op,)), torch.Generator().manual_seed(1))
    assert out.shape == x.shape and not torch.allclose(out, x)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_masks_zero_a_band_and_gain_is_an_additive_offset():
    x = _spectrograms(3) + 10  # no zeros before masking
    masked = augment(x, AugmentParams(ops=("time_mask",), time_mask=0.5), torch.Generator().manual_seed(0))
    zero_frames = (masked == 0).all(dim=2)  # (batch, 1, frames): whole frames zeroed
    assert zero_frames.any() and not zero_frames.all()
    shifted = augment(x, AugmentParams(ops=("gain",)), torch.Generator().manual_seed(0))
    offset = shifted - x
    assert torch.allclose(offset, offset[:, :1, :1, :1].expand_as(offset))


def test_draws_come_from_the_generator_alone():
    params = AugmentParams()
    a = augment(_spectrograms(5), params, torch.Generator().manual_seed(3))
    b = augment(_spectrograms(5), params, torch.Generator().manual_seed(3))
    c = augment(_spectrograms(5), params, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_siamese_gives_every_item_of_both_batches_the_same_transform():
    real, syn = _spectrograms(7, 1), _spectrograms(2, 2)
    both = torch.cat([real, syn])
    out_real, out_syn = siamese(AugmentParams(ops=("time_shift",)), torch.Generator().manual_seed(5), real, syn)
    reference = apply(both, draw(AugmentParams(ops=("time_shift",)), 1, torch.Generator().manual_seed(5)))
    assert torch.allclose(torch.cat([out_real, out_syn]), reference)


def test_siamese_per_class_shares_a_draw_within_a_class_only():
    params = AugmentParams(ops=("gain",))
    x = torch.zeros(6, 1, 4, 4)
    real_y, syn_y = torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([2, 1, 0])
    out_real, out_syn = siamese_per_class(params, torch.Generator().manual_seed(0), 3, (x, real_y), (x[:3], syn_y))
    gain_real, gain_syn = out_real[:, 0, 0, 0], out_syn[:, 0, 0, 0]
    for c in range(3):
        assert (gain_real[real_y == c] == gain_syn[syn_y == c][0]).all()
    assert len(set(gain_syn.tolist())) == 3  # classes drew different gains


def test_siamese_op_per_sample_shares_the_op_but_not_the_values():
    params = AugmentParams(ops=("gain", "time_mask"))
    x = torch.zeros(5, 1, 4, 4)
    gain_draws = 0
    for seed in range(8):
        out_real, out_syn = siamese_op_per_sample(params, torch.Generator().manual_seed(seed), x, x[:3])
        values = torch.cat([out_real, out_syn])[:, 0, 0, 0]
        # zeros stay zero under a mask; under gain every item has its own offset, real and synthetic alike
        if (values != 0).any():
            gain_draws += 1
            assert len(set(values.tolist())) == 8
    assert 0 < gain_draws < 8  # both ops were drawn, each for all items at once
