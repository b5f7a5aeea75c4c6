"""benchmarks.partition_ceiling degrades real clips exactly as each decoder would: what it scores is what a
partitioned set's source clips can still carry."""

import torch

from bench.sets.files import LabelledSet
from benchmarks.partition_ceiling import degraded


def _subset(x: torch.Tensor) -> LabelledSet:
    return LabelledSet(x, torch.tensor([1, 0, 1, 0]))


def test_each_variant_keeps_the_items_sorted_by_class_at_full_size():
    x = torch.randn(4, 1, 8, 8)
    variants = degraded(_subset(x), 4)
    assert set(variants) == {"real", "time-segments", "upsample"}
    assert torch.equal(variants["real"], x[[1, 3, 0, 2]])
    for tensor in variants.values():
        assert tensor.shape == x.shape


def test_degradation_loses_detail_but_keeps_what_is_smooth():
    ramp = torch.linspace(0, 1, 8)
    smooth = (ramp[:, None] + ramp[None, :]).expand(4, 1, 8, 8).contiguous()  # linear in both axes
    noisy = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    for name in ("time-segments", "upsample"):
        assert not torch.allclose(degraded(_subset(noisy), 4)[name], degraded(_subset(noisy), 4)["real"])
    # a constant item survives both decoders unchanged; squeezing time keeps whatever varies only over mels
    constant = torch.full((4, 1, 8, 8), 0.5)
    for name in ("time-segments", "upsample"):
        assert torch.allclose(degraded(_subset(constant), 4)[name], constant, atol=1e-6)
    over_mels = smooth[..., :1].expand(4, 1, 8, 8).contiguous()
    assert torch.allclose(degraded(_subset(over_mels), 4)["time-segments"], over_mels, atol=1e-6)


def test_a_factor_that_is_not_a_square_has_no_upsample_variant():
    assert set(degraded(_subset(torch.randn(4, 1, 8, 6)), 2)) == {"real", "time-segments"}
