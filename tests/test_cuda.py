"""The CUDA path, run by ``benchmarks/gpu.sh`` on a lent GPU (skipped where there is none: nothing here can run
on a CPU-only machine). What it guards: training and distillation on a GPU compute what they compute on the
CPU (every random draw comes from CPU generators, so only float reassociation separates them), the vectorised
evaluation agrees with the sequential one there too, the opt-in speed-ups learn, and peak memory is measured
per piece of work."""

from __future__ import annotations

import pytest
import torch

from bench.data.registry import get_dataset
from bench.device import peak_memory_mb, reset_peak_memory, resolve_device
from bench.evaluation.acceleration import Acceleration
from bench.evaluation.protocol import accuracy, evaluate_set, train_network
from bench.evaluation.vectorised import train_networks, use_vectorised
from bench.features.store import load_feature_set
from bench.models import ModelSpec
from bench.params import ProtocolParams, load_profile
from bench.techniques import Budget, DistillContext, get_technique
from tests.test_bad_input import FEATURES

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (benchmarks/gpu.sh runs these)"),
]

CPU, GPU = torch.device("cpu"), torch.device("cuda")


@pytest.fixture(autouse=True)
def full_fp32():
    """The GPU as distrack picks it (``--device cuda``): fp32 convolutions, not cuDNN's default TF32."""
    resolve_device("cuda")


MODEL = ModelSpec.parse({"architecture": "convnet", "depth": 2, "width": 16}, "model")


@pytest.fixture(scope="module")
def synthetic():
    return load_feature_set(get_dataset("synthetic").from_config(None, {}), FEATURES, None)


def test_training_on_the_gpu_reaches_the_cpu_network(synthetic):
    protocol = ProtocolParams(epochs=5, seeds=(0,), batch_size=32)
    x, y = synthetic.train.x, synthetic.train.y
    on_gpu, gpu_loss = train_network(x, y, 4, MODEL, protocol, 0, GPU)
    on_cpu, cpu_loss = train_network(x, y, 4, MODEL, protocol, 0, CPU)
    for mine, theirs in zip(on_gpu.parameters(), on_cpu.parameters(), strict=True):
        torch.testing.assert_close(mine.cpu(), theirs, rtol=1e-3, atol=1e-3)
    assert gpu_loss == pytest.approx(cpu_loss, rel=1e-3)


def test_vectorised_evaluation_equals_the_sequential_one_on_the_gpu(synthetic):
    protocol = ProtocolParams(epochs=4, seeds=(0, 1, 2), batch_size=32)
    x, y = synthetic.train.x, synthetic.train.y
    together, _ = train_networks(x, y, 4, MODEL, protocol, GPU)
    for seed, network in zip(protocol.seeds, together, strict=True):
        alone, _ = train_network(x, y, 4, MODEL, protocol, seed, GPU)
        for mine, theirs in zip(network.parameters(), alone.parameters(), strict=True):
            torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-4)


def test_auto_vectorises_only_small_steps_on_the_gpu(repo_params):
    """The quick profile's IPC 10 step (0.65 GFLOP) trains its seeds together, the standard profile's (37
    GFLOP, 1.5x slower so on an H200) one by one; ``on`` still forces it."""
    for profile, together in (("quick", True), ("standard", False)):
        chosen = load_profile(repo_params, profile)
        x = torch.zeros((100, *chosen.features.shape))
        assert use_vectorised("auto", x, chosen.model, 10, chosen.protocol, GPU) == together
        assert use_vectorised("on", x, chosen.model, 10, chosen.protocol, GPU)


@pytest.mark.parametrize("technique", ["dm", "idm", "mtt"])
def test_distillation_on_the_gpu_gives_the_cpu_set(synthetic, technique, tmp_path):
    cls = get_technique(technique)
    params = cls.configure("quick", {"iterations": 3})
    sets = {}
    for where, device in (("cpu", CPU), ("gpu", GPU)):
        method = cls(params, DistillContext(model=MODEL, cache_dir=tmp_path / where))
        sets[where] = method.run(synthetic, 2, 0, Budget(3), device)
    torch.testing.assert_close(sets["gpu"].x.cpu(), sets["cpu"].x, rtol=1e-3, atol=1e-3)
    assert torch.equal(sets["gpu"].y.cpu(), sets["cpu"].y)
    assert not torch.equal(sets["cpu"].x, method.run(synthetic, 2, 1, Budget(3), CPU).x)  # the seed matters


@pytest.mark.parametrize("names", ["channels_last", "bf16", "compile", "channels_last,bf16"])
def test_each_speed_up_learns_on_the_gpu(synthetic, names):
    protocol = ProtocolParams(epochs=30, seeds=(0,))
    x, y = synthetic.train.x, synthetic.train.y
    result = evaluate_set(x, y, synthetic, MODEL, protocol, GPU, acceleration=Acceleration.parse(names))
    assert result.test_mean >= 0.9  # chance is 0.25


def test_peak_memory_is_measured_per_piece_of_work_on_the_gpu(synthetic):
    reset_peak_memory(GPU)
    big = torch.ones(256 * 2**20, device=GPU)  # 1 GiB
    del big
    assert peak_memory_mb(GPU) >= 1000
    reset_peak_memory(GPU)
    model, _ = train_network(synthetic.train.x, synthetic.train.y, 4, MODEL, ProtocolParams(epochs=1), 0, GPU)
    assert 0 < peak_memory_mb(GPU) < 1000
    assert accuracy(model, synthetic.test, GPU) >= 0.0
