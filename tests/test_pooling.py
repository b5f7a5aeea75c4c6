"""The fast 2x2 average pool must give nn.AvgPool2d(2)'s bits exactly: forward, backward, double backward, inside
a training run and a gradient-matching step. The committed board was re-keyed on this proof (key definition 4),
so any difference, even the sign of a zero, is a failure."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.models.convnet import ConvNet, ConvNetParams
from bench.models.pooling import AvgPool2x2, avg_pool_2x2, fast_path_applies


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.equal(a.contiguous().view(torch.int32), b.contiguous().view(torch.int32))


def signed_zeros(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Random values with a window of -0.0 and, where there is room, a window of mixed-sign zeros and one that
    cancels exactly."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) * 3
    x[..., :2, :2] = -0.0
    if shape[-1] >= 6:
        x[..., :2, 2:4] = torch.tensor([[0.0, -0.0], [-0.0, -0.0]])
        x[..., :2, 4:6] = torch.tensor([[1.5, -1.5], [-0.0, -0.0]])
    return x


SHAPES = [(3, 2, 8, 8), (32, 8, 32, 32), (5, 4, 6, 10), (1, 1, 2, 2)]


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_backward_and_double_backward_match_aten_bit_for_bit(shape):
    x = signed_zeros(shape, 0)
    assert fast_path_applies(x)
    ours_in, aten_in = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours, aten = avg_pool_2x2(ours_in), F.avg_pool2d(aten_in, 2)
    assert same_bits(ours, aten)
    grad = signed_zeros(tuple(aten.shape), 1)
    (ours_grad,) = torch.autograd.grad(ours, ours_in, grad, create_graph=True)
    (aten_grad,) = torch.autograd.grad(aten, aten_in, grad, create_graph=True)
    assert same_bits(ours_grad, aten_grad)
    # Double backward: differentiate a function of the input gradient with respect to the output gradient.
    g1, g2 = grad.clone().requires_grad_(), grad.clone().requires_grad_()
    ours_g = torch.autograd.grad(avg_pool_2x2(ours_in), ours_in, g1, create_graph=True)[0]
    aten_g = torch.autograd.grad(F.avg_pool2d(aten_in, 2), aten_in, g2, create_graph=True)[0]
    weights = signed_zeros(shape, 2)
    (ours_gg,) = torch.autograd.grad((ours_g * weights).sum(), g1)
    (aten_gg,) = torch.autograd.grad((aten_g * weights).sum(), g2)
    assert same_bits(ours_gg, aten_gg)


def test_strided_inputs_match_too():
    x = signed_zeros((4, 6, 10, 12), 3)
    for view in (x.contiguous(memory_format=torch.channels_last), x.transpose(-1, -2), x[:, ::2]):
        assert same_bits(avg_pool_2x2(view), F.avg_pool2d(view, 2))


@pytest.mark.parametrize(
    "x",
    [
        torch.randn(2, 3, 7, 8),  # odd height: ATen drops the last row
        torch.randn(2, 3, 8, 8, dtype=torch.float64),
        torch.randn(2, 3, 8, 8).to(torch.bfloat16),  # ATen accumulates bf16 in float: views would not
        torch.randn(1, 1 << 13, 32, 32),  # above FAST_MAX_ELEMENTS
    ],
    ids=["odd", "float64", "bfloat16", "large"],
)
def test_other_inputs_go_to_aten(x):
    assert not fast_path_applies(x)
    assert torch.equal(avg_pool_2x2(x), F.avg_pool2d(x, 2))


def twin_networks() -> tuple[ConvNet, ConvNet]:
    """The ConvNet as built, and a copy with nn.AvgPool2d(2) in place of every AvgPool2x2."""
    torch.manual_seed(0)
    ours = ConvNet((1, 16, 16), 4, ConvNetParams(depth=2, width=8))
    aten = ConvNet((1, 16, 16), 4, ConvNetParams(depth=2, width=8))
    aten.load_state_dict(ours.state_dict())
    pools = [i for i, layer in enumerate(aten.features) if isinstance(layer, AvgPool2x2)]
    assert len(pools) == 2
    for i in pools:
        aten.features[i] = nn.AvgPool2d(2)
    return ours, aten


def test_training_steps_give_the_same_weights():
    ours, aten = twin_networks()
    x, y = torch.randn(12, 1, 16, 16, generator=torch.Generator().manual_seed(4)), torch.arange(12) % 4
    for net in (ours, aten):
        optimiser = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        for _ in range(5):
            optimiser.zero_grad()
            F.cross_entropy(net(x), y).backward()
            optimiser.step()
    for (name, a), (_, b) in zip(ours.state_dict().items(), aten.state_dict().items(), strict=True):
        assert same_bits(a, b), name


def test_gradient_matching_step_gives_the_same_synthetic_gradient():
    """DC's step: weight gradients built with create_graph, matched, differentiated into the synthetic items."""
    ours, aten = twin_networks()
    real = torch.randn(8, 1, 16, 16, generator=torch.Generator().manual_seed(5))
    labels = torch.arange(8) % 4
    synthetic = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(6))
    grads = []
    for net in (ours, aten):
        syn = synthetic.clone().requires_grad_()
        params = list(net.parameters())
        g_real = torch.autograd.grad(F.cross_entropy(net(real), labels), params)
        g_syn = torch.autograd.grad(F.cross_entropy(net(syn), torch.arange(4)), params, create_graph=True)
        distance = sum(((a - b) ** 2).sum() for a, b in zip(g_real, g_syn, strict=True))
        grads.append(torch.autograd.grad(distance, syn)[0])
    assert same_bits(*grads)


def test_vmapped_networks_match():
    """The vectorised evaluation trains stacked networks under torch.func."""
    ours, aten = twin_networks()
    x = torch.randn(3, 6, 1, 16, 16)
    params = {k: v.detach() for k, v in ours.named_parameters()}

    def run(net):
        return torch.func.vmap(lambda batch: torch.func.functional_call(net, params, (batch,)))(x)

    assert same_bits(run(ours), run(aten))
