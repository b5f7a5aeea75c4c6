"""Every technique on the synthetic dataset with tiny budgets: shapes, labels, determinism, learning."""

import pytest
import torch

from bench.data.registry import get_dataset
from bench.errors import UserError
from bench.features.store import load_feature_set
from bench.models import ModelSpec, build_model
from bench.techniques import Budget, DistillContext, get_technique, technique_names
from bench.techniques.coresets import herding_order, kcenter_order
from bench.techniques.gradient_matching import class_gradient_loss, gradient_distance
from tests.test_bad_input import FEATURES

CPU = torch.device("cpu")
MODEL = ModelSpec.parse({"architecture": "convnet", "depth": 2, "width": 16}, "model")
TINY = {
    "dm": {},
    "dc": {"batch_real": 16, "outer_loop": 2, "inner_loop": 2, "lr_img": 0.01},
    "dsa": {"batch_real": 16, "outer_loop": 2, "inner_loop": 2, "lr_img": 0.01},
    "mtt": {"num_experts": 2, "expert_train_epochs": 3, "max_start_epoch": 1, "syn_steps": 3, "lr_img": 0.1},
}
ITERATIONS = {"dm": 12, "dc": 3, "dsa": 3, "mtt": 6}


@pytest.fixture(scope="module")
def synthetic():
    return load_feature_set(get_dataset("synthetic").from_config(None, {}), FEATURES, None)


def run(name, features, ipc, seed, tmp_path, **context):
    cls = get_technique(name)
    technique = cls(cls.configure("tiny", TINY.get(name)), DistillContext(model=MODEL, cache_dir=tmp_path, **context))
    return technique.run(features, ipc, seed, Budget(ITERATIONS.get(name)), CPU)


def test_the_registry_has_every_technique_and_random_is_a_reference_row():
    assert set(technique_names()) >= {"herding", "kcenter", "prototype", "dm", "dc", "dsa", "mtt"}
    with pytest.raises(UserError, match=r"unknown technique 'random'"):
        get_technique("random")


@pytest.mark.parametrize("name", ["herding", "kcenter", "prototype", "dm", "dc", "dsa", "mtt"])
def test_shapes_labels_determinism(synthetic, tmp_path, name):
    first = run(name, synthetic, 2, 0, tmp_path)
    assert first.x.shape == (8, 1, 16, 16)
    assert first.y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert torch.isfinite(first.x).all()
    again = run(name, synthetic, 2, 0, tmp_path)
    assert torch.equal(first.x, again.x), "same seed must give the same synthetic set on CPU"
    assert first.cost.wall_seconds > 0 and first.cost.peak_memory_mb > 0
    if name in ITERATIONS:
        assert first.cost.iterations == ITERATIONS[name] == len(first.history)
        other = run(name, synthetic, 2, 1, tmp_path)
        assert not torch.equal(first.x, other.x)
    if name == "mtt":
        assert first.lr is not None and first.lr > 0


@pytest.mark.parametrize("scope", ["batch", "class", "sample"])
def test_dm_loss_decreases(synthetic, tmp_path, scope):
    cls = get_technique("dm")
    params = cls.configure("tiny", {"init": "noise", "lr_img": 1.0, "augment_scope": scope})
    technique = cls(params, DistillContext(model=MODEL))
    first = technique.run(synthetic, 2, 0, Budget(60), CPU)
    history = first.history
    assert sum(history[-10:]) / 10 < 0.5 * sum(history[:10]) / 10
    assert torch.equal(first.x, technique.run(synthetic, 2, 0, Budget(60), CPU).x)


@pytest.mark.parametrize(("name", "key"), [("dm", "augment_scope"), ("dc", "class_batching")])
def test_an_unknown_choice_is_refused_by_name(synthetic, name, key):
    cls = get_technique(name)
    technique = cls(cls.configure("tiny", {key: "clip"}), DistillContext(model=MODEL))
    with pytest.raises(UserError, match=rf"techniques\.{name}\.{key}: expected one of .*got 'clip'"):
        technique.run(synthetic, 2, 0, Budget(2), CPU)


def test_mtt_loss_decreases(synthetic, tmp_path):
    cls = get_technique("mtt")
    params = cls.configure("tiny", {**TINY["mtt"], "lr_img": 1.0})
    history = cls(params, DistillContext(model=MODEL, cache_dir=tmp_path)).run(synthetic, 2, 0, Budget(40), CPU).history
    assert sum(history[-8:]) / 8 < sum(history[:8]) / 8


def test_gradient_distance_is_zero_for_parallel_gradients_and_skips_biases():
    a = [torch.randn(4, 3, 3, 3), torch.randn(4), torch.randn(5, 8)]
    assert float(gradient_distance([2 * g for g in a], a)) == pytest.approx(0.0, abs=1e-5)
    opposite = float(gradient_distance([-g for g in a], a))
    assert opposite == pytest.approx(2 * (4 + 5), rel=1e-4)  # 1 - cos = 2 per output channel, bias ignored


def test_vmap_gradient_matching_equals_the_per_class_loop():
    net = build_model(MODEL, (1, 16, 16), 3, 0)
    generator = torch.Generator().manual_seed(0)
    real = list(torch.randn(3, 8, 1, 16, 16, generator=generator))
    start = torch.randn(3, 2, 1, 16, 16, generator=generator)
    losses, grads = [], []
    for batching in ("loop", "vmap"):
        syn = start.clone().requires_grad_(True)
        loss = class_gradient_loss(net, real, list(syn), batching)
        loss.backward()
        losses.append(loss.detach())
        grads.append(syn.grad)
    assert float(losses[0]) > 0.1
    assert torch.allclose(losses[0], losses[1], rtol=1e-4)
    assert torch.allclose(grads[0], grads[1], rtol=1e-3, atol=1e-6)


def test_coreset_orders():
    points = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.1, 0.0], [-10.0, 0.0]])
    assert kcenter_order(points, 3).tolist()[:1] in ([0], [2])
    assert set(kcenter_order(points, 3).tolist()[1:]) == {1, 3}
    assert herding_order(points, 1).tolist() in ([0], [2])


def test_ipc_beyond_the_training_examples_is_a_clear_error(synthetic, tmp_path):
    with pytest.raises(UserError, match=r"--ipc 17 exceeds the training examples of synthetic"):
        run("dm", synthetic, 17, 0, tmp_path)


def test_mtt_rejects_a_start_epoch_beyond_the_experts(synthetic, tmp_path):
    cls = get_technique("mtt")
    params = cls.configure("tiny", {**TINY["mtt"], "max_start_epoch": 5})
    with pytest.raises(UserError, match=r"max_start_epoch \(5\) \+ expert_epochs \(2\) exceeds"):
        cls(params, DistillContext(model=MODEL, cache_dir=tmp_path)).run(synthetic, 1, 0, Budget(1), CPU)


def test_unknown_parameter_is_named():
    with pytest.raises(UserError, match=r"techniques.dm: unknown key\(s\) lr"):
        get_technique("dm").configure("quick", {"lr": 3})


def test_experts_are_reused_and_stored_flat_in_half_precision(synthetic, tmp_path):
    import safetensors

    run("mtt", synthetic, 1, 0, tmp_path)
    (folder,) = (tmp_path / "experts").iterdir()
    files = sorted(folder.glob("expert_*.safetensors"))
    assert len(files) == 2
    stamps = [f.stat().st_mtime_ns for f in files]
    with safetensors.safe_open(str(files[0]), framework="pt") as handle:
        trajectory = handle.get_tensor("trajectory")
    assert trajectory.dtype == torch.float16 and trajectory.shape[0] == 3 + 1
    run("mtt", synthetic, 2, 0, tmp_path)  # another IPC reuses the same experts
    assert [f.stat().st_mtime_ns for f in files] == stamps


def test_techniques_never_see_the_test_split(synthetic, tmp_path):
    """A technique gets the training and validation splits only; reaching for test is a clear error."""

    class Peeker(get_technique("herding")):
        name = "peeker"

        def distill(self, train_set, ipc, seed, budget, device, progress):
            assert len(train_set.train) and len(train_set.validation)
            return train_set.test  # never returns: the view has no test split

    technique = Peeker(Peeker.configure("tiny"), DistillContext(model=MODEL, cache_dir=tmp_path))
    with pytest.raises(UserError, match=r"synthetic: techniques never see the test split"):
        technique.run(synthetic, 1, 0, Budget(), CPU)


def test_an_iteration_override_is_checked_and_recorded(synthetic, tmp_path):
    cls = get_technique("dm")
    technique = cls(cls.configure("tiny"), DistillContext(model=MODEL, cache_dir=tmp_path))
    with pytest.raises(UserError, match=r"--iterations must be at least 1, got -3"):
        technique.run(synthetic, 1, 0, Budget(-3), CPU)
    result = technique.run(synthetic, 1, 0, Budget(3), CPU)
    assert result.params["iterations"] == 3 != cls.configure("tiny").iterations


@pytest.mark.parametrize(
    ("name", "override", "message"),
    [
        ("dm", {"batch_real": 0}, r"techniques.dm.batch_real: must be >= 1, got 0"),
        ("dm", {"lr_img": -5}, r"techniques.dm.lr_img: must be > 0, got -5.0"),
        ("mtt", {"syn_steps": -1}, r"techniques.mtt.syn_steps: must be >= 1, got -1"),
        ("dc", {"outer_loop": 0}, r"techniques.dc.outer_loop: must be >= 1, got 0"),
    ],
)
def test_parameter_ranges_are_checked_before_any_work(name, override, message):
    with pytest.raises(UserError, match=message):
        get_technique(name).configure("quick", override)
