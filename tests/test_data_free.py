"""Data-free techniques (frami, deepinversion, teacher-noise): they distil from a published teacher alone."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from bench.artefacts.teacher_index import find_teacher, publish_teacher
from bench.artefacts.teachers import TeacherParams
from bench.cli import cli
from bench.errors import UserError
from bench.features.withheld import withhold
from bench.session import Session
from bench.sets.files import load_set
from bench.techniques import Budget, DistillContext
from bench.techniques.data_free import DataFreeTechnique
from bench.techniques.inversion import BatchNormStatistics, InversionParams, contrastive_loss
from bench.techniques.registry import get_technique
from tests.conftest import TINY_PARAMS
from tests.test_bad_input import make_fsdd

DATA_FREE_PARAMS = (
    TINY_PARAMS
    + """
techniques:
  frami: {teacher: {epochs: 5}}
  teacher-noise: {teacher: {epochs: 5}}
"""
)


@pytest.fixture
def session(make_session) -> Session:
    return make_session(DATA_FREE_PARAMS)


def _distill(tmp_path, technique: str, out: str, seed: int = 0) -> tuple[int, str]:
    args = ["--params", str(tmp_path / "params.yaml"), "--data-root", str(tmp_path), "--cache-dir"]
    args += [str(tmp_path / "cache"), "-q", "distill", "-t", technique, "-d", "fsdd", "--ipc", "2"]
    result = CliRunner().invoke(cli, [*args, "--seed", str(seed), "--iterations", "4", "--out", str(tmp_path / out)])
    return result.exit_code, result.output


def test_frami_distils_with_the_dataset_gone_once_its_teacher_is_published(tmp_path, write_audio):
    (tmp_path / "params.yaml").write_text(DATA_FREE_PARAMS)
    recordings = make_fsdd(tmp_path, write_audio)
    code, output = _distill(tmp_path, "frami", "first.safetensors")
    assert code == 0, output  # the first run trains the teacher on the real training split and publishes it
    shutil.rmtree(recordings.parent)  # every clip, training ones included, is gone
    code, output = _distill(tmp_path, "frami", "second.safetensors", seed=1)
    assert code == 0, output
    second = load_set(tmp_path / "second.safetensors", num_classes=10)
    assert second.x.shape == (20, 1, 16, 16) and second.labels == "soft"
    assert torch.allclose(second.soft.sum(dim=1), torch.ones(20))
    first_meta = json.loads((tmp_path / "first.json").read_text())
    assert json.loads((tmp_path / "second.json").read_text())["feature_key"] == first_meta["feature_key"]
    code, output = _distill(tmp_path, "herding", "coreset.safetensors")  # a technique that needs the data
    assert code == 2 and "fsdd" in output and "Traceback" not in output


def test_a_data_free_technique_that_reads_the_training_split_is_stopped(session):
    class Peeking(DataFreeTechnique):
        name = "peeking-inversion"
        Params = InversionParams

        def distill(self, train_set, ipc, seed, budget, device, progress):
            return train_set.train.x[:ipc]

    features = session.features("synthetic")
    method = Peeking(InversionParams(), DistillContext(model=session.profile.model, cache_dir=session.cache_dir))
    method.use_teacher(
        publish_teacher(
            features,
            TeacherParams(epochs=3),
            session.profile.model,
            session.profile.protocol,
            session.device,
            session.cache_dir,
        )
    )
    with pytest.raises(UserError, match=r"data-free technique read the synthetic train split"):
        method.run(features, 1, 0, Budget(2), session.device)
    view = withhold(features)
    assert view.shape == features.shape and view.class_names == features.class_names
    with pytest.raises(UserError, match="validation split"):
        len(view.validation)


def test_the_teacher_index_finds_a_published_teacher_without_the_data_and_only_for_its_settings(session):
    features = session.features("synthetic")
    settings = (session.profile.model, session.profile.protocol, session.device, session.cache_dir)
    feature_params = session.profile.features_for("synthetic")
    params = TeacherParams(epochs=3)
    assert find_teacher("synthetic", feature_params, params, *settings) is None
    published = publish_teacher(features, params, *settings)
    teacher, space = find_teacher("synthetic", feature_params, params, *settings)
    assert space.cache_key == features.cache_key and space.shape == features.shape
    assert (space.mean, space.std) == (features.mean, features.std)
    assert torch.equal(teacher.logits(features.test.x), published.logits(features.test.x))
    assert find_teacher("synthetic", feature_params, TeacherParams(epochs=4), *settings) is None


def test_batch_norm_statistics_vanish_when_a_batch_has_the_running_statistics():
    torch.manual_seed(0)
    network = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3)).eval()
    x = torch.randn(64, 1, 8, 8)
    statistics = BatchNormStatistics(network)
    statistics.active = True
    network(x)
    off = float(statistics.take().detach())
    with torch.no_grad():
        inner = network[0](x)
        network[1].running_mean.copy_(inner.mean(dim=(0, 2, 3)))
        network[1].running_var.copy_(inner.var(dim=(0, 2, 3), unbiased=False))
    network(x)
    assert off > 0.1 and float(statistics.take()) == pytest.approx(0.0, abs=1e-5)
    statistics.close()
    network(x)
    assert statistics.terms == []  # closed: the hooks are gone


def test_the_contrastive_loss_pulls_views_of_one_item_together_and_pushes_items_apart():
    items = torch.eye(4)  # four orthogonal embeddings
    temperature = 0.5
    matched = float(contrastive_loss(items, items, temperature))
    positive, negatives = math.exp(1 / temperature), 3 * math.exp(0.0)
    assert matched == pytest.approx(-math.log(positive / (positive + negatives)), rel=1e-6)
    shuffled = float(contrastive_loss(items, items[[1, 2, 3, 0]], temperature))
    assert shuffled > matched + 1.0


def test_inversion_makes_the_teacher_recognise_noise_and_the_baselines_drop_their_terms(session):
    features = session.features("synthetic")
    teacher = publish_teacher(
        features,
        TeacherParams(epochs=5),
        session.profile.model,
        session.profile.protocol,
        session.device,
        session.cache_dir,
    )
    losses = {}
    for name in ("frami", "deepinversion", "teacher-noise"):
        cls = get_technique(name)
        method = cls(cls.configure("quick", {"iterations": 30}), DistillContext(model=session.profile.model))
        method.use_teacher(teacher)
        result = method.run(features, 2, 0, Budget(None), session.device)
        losses[name] = result.history
        agreement = float((result.soft.argmax(dim=1) == result.y).float().mean())
        assert agreement == 1.0, f"{name}: the teacher recognises {agreement:.0%} of the items"
        assert result.history[-1] < result.history[0]
    assert get_technique("frami").Params().contrastive_weight > 0
    assert get_technique("deepinversion").Params().contrastive_weight == 0
    params = get_technique("teacher-noise").Params()
    assert params.bn_weight == 0 and params.contrastive_weight == 0
    assert losses["teacher-noise"][0] < losses["deepinversion"][0] < losses["frami"][0]  # fewer terms, less loss


def test_validate_passes_frami_and_marks_it_data_free(tmp_path):
    result = CliRunner().invoke(cli, ["validate", "frami", "--iterations", "3"])
    assert result.exit_code == 0, result.output
    assert "PASS  data-free" in result.output and "N/A   IPC too large" in result.output


def test_artefacts_build_teacher_trains_every_teacher_the_params_ask_for_once(tmp_path):
    (tmp_path / "params.yaml").write_text(DATA_FREE_PARAMS)
    args = ["--params", str(tmp_path / "params.yaml"), "--cache-dir", str(tmp_path / "cache"), "-q"]
    build = [*args, "artefacts", "build", "teacher", "--dataset", "synthetic"]
    first = CliRunner().invoke(cli, build)
    assert first.exit_code == 0, first.output
    # two teachers: the kd track's (= deepinversion's, which has no section here) and frami's (= teacher-noise's)
    lines = first.output.strip().splitlines()
    assert len(lines) == 2 and all("(trained)" in line for line in lines), first.output
    again = CliRunner().invoke(cli, build)
    assert again.exit_code == 0 and again.output.count("(stored)") == 2, again.output
    index = list((tmp_path / "cache" / "artefacts" / "teacher-index").glob("synthetic-*.json"))
    assert len(index) == 2


def test_artefacts_build_teacher_for_grid_trains_only_the_teachers_the_grid_reads(tmp_path):
    """dvc.yaml's teacher stage passes --for-grid: a grid whose techniques and tracks read no teacher trains none
    (its output folder is still made); one that scores kd trains the kd track's teacher, and only it."""
    args = ["--params", str(tmp_path / "params.yaml"), "--cache-dir", str(tmp_path / "cache"), "-q"]
    build = [*args, "artefacts", "build", "teacher", "--dataset", "synthetic", "--for-grid"]
    grid = "grid: {{profile: tiny, datasets: [synthetic], techniques: [{techniques}], tracks: [{tracks}], ipc: [1]}}\n"
    (tmp_path / "params.yaml").write_text(DATA_FREE_PARAMS + grid.format(techniques="dm", tracks="convnet"))
    none = CliRunner().invoke(cli, build)
    assert none.exit_code == 0 and "nothing to build" in none.output, none.output
    assert (tmp_path / "cache" / "artefacts").is_dir()
    assert not list((tmp_path / "cache" / "artefacts").iterdir())
    (tmp_path / "params.yaml").write_text(DATA_FREE_PARAMS + grid.format(techniques="dm", tracks="convnet, kd"))
    kd = CliRunner().invoke(cli, build)
    lines = kd.output.strip().splitlines()
    assert kd.exit_code == 0 and len(lines) == 1 and "(trained)" in lines[0], kd.output
    (tmp_path / "params.yaml").write_text(DATA_FREE_PARAMS + grid.format(techniques="dm, frami", tracks="kd"))
    both = CliRunner().invoke(cli, build)
    assert both.exit_code == 0 and both.output.count("(stored)") == 1 and both.output.count("(trained)") == 1
