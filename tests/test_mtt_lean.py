"""mtt-lean: the recomputed unroll gives the gradients of autograd through the whole unroll, and the technique
gives mtt's sets up to float sums, deterministically, behind the technique contract."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from bench.cli import cli
from bench.models import build_model
from bench.techniques import Budget, DistillContext, get_technique
from bench.techniques.augment import AugmentParams, augment
from bench.techniques.unroll import FlatNetwork, recomputed_unroll, trajectory_distance
from tests.test_techniques import CPU, ITERATIONS, MODEL, TINY, run, synthetic  # noqa: F401 (synthetic: a fixture)

STEPS = 4


def _problem():
    torch.manual_seed(0)
    network = FlatNetwork.of(build_model(MODEL, (1, 16, 16), 4, 0))
    start = torch.cat([p.detach().flatten() for p in network.net.parameters()])
    target = start + 0.01 * torch.randn_like(start)
    syn_x = torch.randn(8, 1, 16, 16, requires_grad=True)
    syn_lr = torch.tensor(0.05, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])

    def draw(items, generator):
        idx = torch.randperm(len(labels), generator=generator)[:6]  # a batch smaller than the set: idx matters
        return augment(items[idx], AugmentParams(), generator, per_sample=True), labels[idx]

    return network, start, target, syn_x, syn_lr, draw


def _full_unroll(network, start, target, syn_x, syn_lr, draw, generator):
    student = start.clone().requires_grad_(True)
    for _ in range(STEPS):
        batch, labels = draw(syn_x, generator)
        grad = torch.autograd.grad(F.cross_entropy(network.logits(student, batch), labels), student, create_graph=True)
        student = student - syn_lr * grad[0]
    loss = trajectory_distance(student, start, target)
    loss.backward()
    return float(loss.detach())


def test_the_recomputed_unroll_has_the_gradients_of_the_whole_unroll():
    network, start, target, syn_x, syn_lr, draw = _problem()
    full = _full_unroll(network, start, target, syn_x, syn_lr, draw, torch.Generator().manual_seed(7))
    full_x, full_lr = syn_x.grad.clone(), syn_lr.grad.clone()
    syn_x.grad = syn_lr.grad = None
    lean = recomputed_unroll(network, start, target, syn_x, syn_lr, STEPS, draw, torch.Generator().manual_seed(7))
    assert lean == pytest.approx(full, rel=1e-5)  # first-order grads with and without a graph differ in ulps
    assert full_x.abs().max() > 0 and full_lr.abs() > 0
    torch.testing.assert_close(syn_x.grad, full_x, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(syn_lr.grad, full_lr, rtol=1e-5, atol=1e-8)


def _lean(features, seed, tmp_path):
    cls = get_technique("mtt-lean")
    technique = cls(cls.configure("tiny", TINY["mtt"]), DistillContext(model=MODEL, cache_dir=tmp_path))
    return technique.run(features, 2, seed, Budget(ITERATIONS["mtt"]), CPU)


def test_mtt_lean_is_mtt_up_to_float_sums_and_deterministic(synthetic, tmp_path):  # noqa: F811
    mtt = run("mtt", synthetic, 2, 0, tmp_path)
    lean = _lean(synthetic, 0, tmp_path)  # same params and cache: the same experts
    torch.testing.assert_close(lean.x, mtt.x, rtol=1e-4, atol=1e-5)
    assert abs(lean.lr - mtt.lr) < 1e-6 and len(lean.history) == len(mtt.history)
    torch.testing.assert_close(torch.tensor(lean.history), torch.tensor(mtt.history), rtol=1e-4, atol=1e-6)
    assert torch.equal(_lean(synthetic, 0, tmp_path).x, lean.x)
    assert not torch.equal(_lean(synthetic, 1, tmp_path).x, lean.x)
    assert lean.to_labelled().metadata["technique"] == "mtt-lean"


def test_validate_passes_mtt_lean():
    args = ["validate", "mtt-lean", "--iterations", "3", *(f"--param={k}={v}" for k, v in TINY["mtt"].items())]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "mtt-lean: all checks passed" in result.output and "PASS  resume" in result.output
