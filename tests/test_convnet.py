import pytest
import torch

from bench.errors import UserError
from bench.models import ModelSpec, build_model


@pytest.mark.parametrize("shape", [(1, 64, 101), (1, 40, 173), (1, 32, 32), (1, 8, 8), (1, 64, 63)])
def test_any_spectrogram_size_works(shape):
    model = build_model(ModelSpec.parse({"architecture": "convnet", "width": 8}, "model"), shape, 10, 0)
    logits = model(torch.randn(3, *shape))
    assert logits.shape == (3, 10)
    logits.sum().backward()  # trainable end to end


@pytest.mark.parametrize("norm", ["instancenorm", "batchnorm", "layernorm", "groupnorm", "none"])
@pytest.mark.parametrize("pooling", ["avgpool", "maxpool", "none"])
def test_variants(norm, pooling):
    model = build_model(
        ModelSpec.parse({"architecture": "convnet", "depth": 2, "width": 8, "norm": norm, "pooling": pooling}, "model"),
        (1, 16, 20),
        4,
        1,
    )
    assert model(torch.randn(2, 1, 16, 20)).shape == (2, 4)


def test_instance_norm_is_one_group_per_channel():
    model = build_model(ModelSpec.parse({"architecture": "convnet", "depth": 1, "width": 6}, "model"), (1, 8, 8), 2, 0)
    norm = model.features[1]
    assert isinstance(norm, torch.nn.GroupNorm) and norm.num_groups == norm.num_channels == 6


def test_seeded_initialisation_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_model(ModelSpec.parse({"architecture": "convnet", "width": 8}, "model"), (1, 16, 16), 5, 7)
    after = torch.rand(1)
    b = build_model(ModelSpec.parse({"architecture": "convnet", "width": 8}, "model"), (1, 16, 16), 5, 7)
    c = build_model(ModelSpec.parse({"architecture": "convnet", "width": 8}, "model"), (1, 16, 16), 5, 8)
    assert torch.equal(before, after)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.classifier.weight, c.classifier.weight)


def test_too_small_input_is_a_clear_error():
    with pytest.raises(UserError, match=r"too small for depth 4"):
        build_model(ModelSpec.parse({"architecture": "convnet", "depth": 4, "width": 4}, "model"), (1, 8, 8), 2, 0)


def test_unknown_norm_is_named():
    with pytest.raises(UserError, match=r"model.norm: expected one of .*got 'weird'"):
        build_model(ModelSpec.parse({"architecture": "convnet", "norm": "weird"}, "model"), (1, 8, 8), 2, 0)


def _embed_and_input_grad(model, x):
    x = x.clone().requires_grad_(True)
    out = model.embed(x)
    (out**2).sum().backward()
    return out.detach(), x.grad


def test_frozen_cpu_forward_is_chunked_and_bit_identical_to_one_pass():
    """Matching forwards (frozen random nets) run in cache-sized chunks on CPU; the result and the input
    gradient must not change by a single bit."""
    model = build_model(
        ModelSpec.parse({"architecture": "convnet", "width": 8}, "model"), (1, 16, 16), 3, 0
    ).requires_grad_(False)
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
    for params, frozen in (
        (ModelSpec.parse({"architecture": "convnet", "width": 4, "norm": "batchnorm"}, "model"), True),
        (ModelSpec.parse({"architecture": "convnet", "width": 4}, "model"), False),
    ):
        model = build_model(params, (1, 8, 8), 2, seed=0).requires_grad_(not frozen)
        model.chunk = 1
        calls: list[int] = []
        model.features.register_forward_hook(lambda module, args, out, seen=calls: seen.append(len(args[0])))
        model.embed(x)
        assert calls == [20]


@pytest.mark.parametrize(
    "spec",
    [
        {"architecture": "resnet", "width": 4},
        {"architecture": "resnet", "width": 4, "norm": "batchnorm"},
        {"architecture": "mlp", "hidden": [8]},
        {"architecture": "temporal-cnn", "width": 6, "depth": 2},
    ],
)
@pytest.mark.parametrize("shape", [(1, 16, 16), (1, 32, 63)])
def test_every_registered_family_trains_on_any_spectrogram_size(spec, shape):
    model = ModelSpec.parse(spec, "test").build(shape, 5, seed=0)
    logits = model(torch.randn(3, *shape))
    assert logits.shape == (3, 5) and model.embed(torch.randn(2, *shape)).dim() == 2
    logits.sum().backward()
    again = ModelSpec.parse(spec, "test").build(shape, 5, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters(), strict=True))


def test_the_resnet_keeps_frequency_and_averages_time():
    """The head pools time only: the embedding has one value per channel and frequency row (16 channels x
    4 rows after two stride-2 stages of a 16-bin input), not one per channel as a global pool gives."""
    model = ModelSpec.parse({"architecture": "resnet", "width": 4}, "model").build((1, 16, 16), 3, seed=0).eval()
    x = torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert model.embed(x).shape == (1, 16 * 4)
        assert model.classifier.in_features == 64


def test_a_variant_spec_starts_from_its_base():
    base = ModelSpec.parse({"architecture": "convnet", "width": 32, "depth": 3}, "model")
    narrow = ModelSpec.parse({"width": 16}, "pool.narrow", base=base)
    other = ModelSpec.parse({"architecture": "mlp"}, "pool.mlp", base=base)
    assert narrow.describe() == {**base.describe(), "width": 16}
    assert other.architecture == "mlp" and "width" not in other.describe()
    with pytest.raises(UserError, match=r"pool.bad: unknown key\(s\) widht \(did you mean 'width'\?\)"):
        ModelSpec.parse({"widht": 16}, "pool.bad", base=base)
    with pytest.raises(UserError, match=r"pool.zero.width: must be >= 1, got 0"):
        ModelSpec.parse({"width": 0}, "pool.zero", base=base)
    with pytest.raises(UserError, match=r"unknown model 'transformer'"):
        ModelSpec.parse({"architecture": "transformer"}, "pool.t", base=base)
