"""dm-waveform: a set of waveforms that trains through the suite's front end and starts from dm's real items."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from bench.cli import cli
from bench.errors import UserError
from bench.features.logmel import LogMel
from bench.sets.items import training_items
from bench.techniques import Budget, DistillContext, get_technique
from bench.techniques.waveform_dm import initial_waveforms
from tests.test_techniques import CPU, MODEL, synthetic  # noqa: F401 (synthetic: a fixture)


def _run(features, seed, tmp_path, iterations=6, **params):
    cls = get_technique("dm-waveform")
    technique = cls(cls.configure("tiny", params), DistillContext(model=MODEL, cache_dir=tmp_path))
    return technique.run(features, 2, seed, Budget(iterations), CPU)


def test_starting_waveforms_render_closest_to_the_real_items_they_invert(synthetic):  # noqa: F811
    train = synthetic.training_splits()
    picked = torch.arange(0, len(train.train.y), 7)[:8]  # items of every class, several per class
    logmels = train.denormalise(train.train.x[picked])
    waves = initial_waveforms(logmels, synthetic.params, 32, 0)
    assert waves.shape == (8, synthetic.params.num_samples)
    rendered = LogMel(synthetic.params)(waves)
    energy = rendered.exp().mean(dim=(1, 2, 3)) / logmels.exp().mean(dim=(1, 2, 3))
    assert torch.allclose(energy, torch.ones(8), rtol=1e-3)  # the gain restores each clip's mel energy
    nearest = torch.cdist(rendered.flatten(1), logmels.flatten(1)).argmin(dim=1)
    assert nearest.tolist() == list(range(8)), "a starting waveform must sound like the clip it inverts"


def test_a_waveform_set_trains_as_log_mels_follows_its_seed_and_lowers_its_loss(synthetic, tmp_path):  # noqa: F811
    first = _run(synthetic, 0, tmp_path, iterations=12)
    assert first.domain == "waveform" and first.x.shape == (8, synthetic.params.num_samples)
    items = training_items(first.to_labelled(), synthetic.params, synthetic.mean, synthetic.std)
    assert items.x.shape == (8, *synthetic.shape) and torch.isfinite(items.x).all()
    assert torch.equal(_run(synthetic, 0, tmp_path, iterations=12).x, first.x)
    assert not torch.equal(_run(synthetic, 1, tmp_path, iterations=12).x, first.x)
    assert sum(first.history[-3:]) < sum(first.history[:3])


def test_validate_passes_dm_waveform():
    result = CliRunner().invoke(cli, ["validate", "dm-waveform", "--iterations", "3"])
    assert result.exit_code == 0, result.output
    assert "dm-waveform: all checks passed" in result.output and "(waveform) trains as" in result.output


def test_each_update_bounds_its_steps_and_an_unknown_update_is_refused_by_name(synthetic, tmp_path):  # noqa: F811
    sign = _run(synthetic, 0, tmp_path, update="sign", lr_img=1e-4)
    plain = _run(synthetic, 0, tmp_path, update="gradient", lr_img=1e-6)
    assert not torch.equal(sign.x, plain.x)
    steps = (sign.x - _run(synthetic, 0, tmp_path, iterations=1, update="sign", lr_img=1e-4).x).abs()
    # sign steps: at most lr_img / (1 - momentum) per sample per iteration, whatever the gradient's size
    assert float(steps.max()) <= 5 * 1e-4 / (1 - 0.5) + 1e-9
    # relative steps: each sample moves by at most lr_img / (1 - momentum) of its own size, so silence stays silent
    one, six = (_run(synthetic, 0, tmp_path, iterations=k, update="relative", lr_img=0.01) for k in (1, 6))
    assert ((six.x - one.x).abs() <= one.x.abs() * ((1 + 0.02) ** 5 - 1) + 1e-9).all()
    assert not torch.equal(six.x, one.x)
    with pytest.raises(UserError, match=r"techniques\.dm-waveform\.update"):
        _run(synthetic, 0, tmp_path, update="adam")


def test_the_validation_monitor_trains_on_the_rendered_log_mels(synthetic, tmp_path):  # noqa: F811
    seen = []

    def monitor(x: torch.Tensor, y: torch.Tensor, lr: float | None) -> float:
        seen.append(tuple(x.shape))
        return 0.5

    cls = get_technique("dm-waveform")
    context = DistillContext(model=MODEL, cache_dir=tmp_path, monitor=monitor, monitor_checks=2)
    technique = cls(cls.configure("tiny", {}), context)
    technique.run(synthetic, 2, 0, Budget(4), CPU)
    assert seen == [(8, *synthetic.shape)] * 2 and technique.monitored == [(2, 0.5), (4, 0.5)]
    assert technique.context.monitor is monitor  # restored: a second run renders once, not twice
