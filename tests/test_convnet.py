import pytest
import torch

from bench.errors import UserError
from bench.models import build_convnet
from bench.params import ModelParams


@pytest.mark.parametrize("shape", [(1, 64, 101), (1, 40, 173), (1, 32, 32), (1, 8, 8), (1, 64, 63)])
def test_any_spectrogram_size_works(shape):
    model = build_convnet(shape, 10, ModelParams(width=8), seed=0)
    logits = model(torch.randn(3, *shape))
    assert logits.shape == (3, 10)
    logits.sum().backward()  # trainable end to end


@pytest.mark.parametrize("norm", ["instancenorm", "batchnorm", "layernorm", "groupnorm", "none"])
@pytest.mark.parametrize("pooling", ["avgpool", "maxpool", "none"])
def test_variants(norm, pooling):
    model = build_convnet((1, 16, 20), 4, ModelParams(depth=2, width=8, norm=norm, pooling=pooling), seed=1)
    assert model(torch.randn(2, 1, 16, 20)).shape == (2, 4)


def test_instance_norm_is_one_group_per_channel():
    model = build_convnet((1, 8, 8), 2, ModelParams(depth=1, width=6), seed=0)
    norm = model.features[1]
    assert isinstance(norm, torch.nn.GroupNorm) and norm.num_groups == norm.num_channels == 6


def test_seeded_initialisation_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_convnet((1, 16, 16), 5, ModelParams(width=8), seed=7)
    after = torch.rand(1)
    b = build_convnet((1, 16, 16), 5, ModelParams(width=8), seed=7)
    c = build_convnet((1, 16, 16), 5, ModelParams(width=8), seed=8)
    assert torch.equal(before, after)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.classifier.weight, c.classifier.weight)


def test_too_small_input_is_a_clear_error():
    with pytest.raises(UserError, match=r"too small for depth 4"):
        build_convnet((1, 8, 8), 2, ModelParams(depth=4, width=4), seed=0)


def test_unknown_norm_is_named():
    with pytest.raises(UserError, match=r"model.norm: unknown 'weird'"):
        build_convnet((1, 8, 8), 2, ModelParams(norm="weird"), seed=0)


def _embed_and_input_grad(model, x):
    x = x.clone().requires_grad_(True)
    out = model.embed(x)
    (out**2).sum().backward()
    return out.detach(), x.grad


def test_frozen_cpu_forward_is_chunked_and_bit_identical_to_one_pass():
    """Matching forwards (frozen random nets) run in cache-sized chunks on CPU; the result and the input
    gradient must not change by a single bit."""
    model = build_convnet((1, 16, 16), 3, ModelParams(width=8), seed=0).requires_grad_(False)
    x = torch.randn(50, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    whole_chunk = model.chunk
    model.chunk = 10**9
    whole = _embed_and_input_grad(model, x)
    model.chunk = 8
    calls = []
    model.features.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    chunked = _embed_and_input_grad(model, x)
    assert whole_chunk >= 8 and calls == [8] * 6 + [2]
    assert torch.equal(whole[0], chunked[0]) and torch.equal(whole[1], chunked[1])


def test_chunking_is_off_when_it_would_change_the_math():
    """Batch norm mixes items, and trainable weights sum gradients over the batch: no chunking then."""
    x = torch.randn(20, 1, 8, 8)
    for params, frozen in ((ModelParams(width=4, norm="batchnorm"), True), (ModelParams(width=4), False)):
        model = build_convnet((1, 8, 8), 2, params, seed=0).requires_grad_(not frozen)
        model.chunk = 1
        calls: list[int] = []
        model.features.register_forward_hook(lambda module, args, out, seen=calls: seen.append(len(args[0])))
        model.embed(x)
        assert calls == [20]
