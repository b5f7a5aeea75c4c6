"""Knowledge distillation: teachers as stored artefacts, the KD loss, the ``kd`` track."""

from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner

from bench.artefacts.teachers import TeacherParams, get_teacher
from bench.cli import cli
from bench.device import cpu_threads
from bench.evaluation.tracks.kd import kd_loss, stored_targets, teacher_targets, train_student
from bench.params import ProtocolParams
from bench.session import Session
from tests.conftest import TINY_PARAMS

KD_PARAMS = (
    TINY_PARAMS
    + """
tracks:
  kd: {seeds: [0, 1], temperatures: [1.0, 4.0], teacher: {epochs: 8, lrs: [0.01, 0.05]}}
"""
)


@pytest.fixture
def session(make_session) -> Session:
    return make_session(KD_PARAMS)


def test_kd_loss_equals_the_temperature_scaled_kl_on_a_hand_computed_example():
    student, teacher, t = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 2.0]]), 2.0
    # softmax([1, 0]) = (e/(e+1), 1/(e+1)); softmax([0, 1]) is its mirror; KL(p_t || p_s) * T^2
    a, b = math.e / (math.e + 1), 1 / (math.e + 1)
    expected = (b * math.log(b / a) + a * math.log(a / b)) * t**2
    target = torch.log_softmax(teacher / t, dim=1)
    assert float(kd_loss(student, target, t)) == pytest.approx(expected, rel=1e-6)
    assert float(kd_loss(teacher, target, t)) == pytest.approx(0.0, abs=1e-7)


def test_a_sets_own_soft_labels_are_the_targets_of_the_items_in_the_batch():
    soft = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    chosen = stored_targets(soft)(torch.zeros(2, 1), torch.tensor([2, 0]))
    assert torch.allclose(chosen.exp(), soft[[2, 0]])


def test_a_teacher_is_trained_once_then_loaded_from_the_store(session):
    features = session.features("synthetic")
    model, protocol, device = session.profile.model, session.profile.protocol, session.device
    params = TeacherParams(epochs=8, lrs=(0.01, 0.05))
    first = get_teacher(features, params, model, protocol, device, session.cache_dir)
    again = get_teacher(features, params, model, protocol, device, session.cache_dir)
    assert first.built and not again.built
    assert first.description["lr"] in (0.01, 0.05) and first.description["validation_accuracy"] == max(
        first.description["validation_accuracy_per_lr"].values()
    )
    for name, value in first.network.state_dict().items():
        assert torch.equal(value, again.network.state_dict()[name]), name
    assert torch.equal(first.logits(features.test.x), again.logits(features.test.x))
    other = get_teacher(features, TeacherParams(epochs=8, lrs=(0.05,)), model, protocol, device, session.cache_dir)
    assert other.built, "a teacher of other params must not be taken from the store"
    assert len(list((session.cache_dir / "artefacts" / "teacher").glob("*.safetensors"))) == 2


def test_a_kd_student_loss_decreases(session):
    features = session.features("synthetic")
    teacher = get_teacher(
        features,
        TeacherParams(epochs=8),
        session.profile.model,
        session.profile.protocol,
        session.device,
        session.cache_dir,
    )
    x = features.train.x[::6]  # a small set: 4 items per class
    recipe = ProtocolParams(**{**session.profile.protocol.__dict__, "epochs": 20})
    _, losses = train_student(
        x,
        features.num_classes,
        teacher_targets(teacher, 4.0),
        session.profile.model,
        recipe,
        seed=0,
        temperature=4.0,
        device=session.device,
        augment_batches=False,
    )
    assert len(losses) == 20 and losses[-1] < 0.5 * losses[0], losses


def test_the_kd_track_chooses_the_temperature_on_validation_and_reports_its_teacher(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(KD_PARAMS)
    base = ["--params", str(params), "--cache-dir", str(tmp_path / "cache"), "-q", "evaluate", "--dataset", "synthetic"]
    cell = ["--reference", "random", "--ipc", "2", "--track", "kd", "--track", "convnet"]
    result = CliRunner().invoke(cli, [*base, *cell, "--out", str(tmp_path / "a.json")])
    assert result.exit_code == 0, result.output
    kd = json.loads((tmp_path / "a.json").read_text())["results"]["kd"]
    assert kd["protocol_id"] == "kd-v1" and kd["seeds"] == [0, 1] and kd["teacher_built_here"]
    per_t = kd["validation_accuracy_per_temperature"]
    assert set(per_t) == {"1.0", "4.0"} and per_t[str(kd["temperature"])] == max(per_t.values())
    assert 0.0 <= kd["teacher"]["test_accuracy"] <= 1.0 and kd["teacher"]["lr"] in (0.01, 0.05)
    assert kd["model"]["architecture"] == "convnet"  # the student is the profile's network
    again = CliRunner().invoke(cli, [*base, *cell, "--out", str(tmp_path / "b.json")])
    assert again.exit_code == 0, again.output
    kd_again = json.loads((tmp_path / "b.json").read_text())["results"]["kd"]
    assert not kd_again["teacher_built_here"]  # the stored teacher, not a second training
    assert kd_again["metrics"]["test_accuracy"]["per_seed"] == kd["metrics"]["test_accuracy"]["per_seed"]


def test_the_statistics_pooling_teacher_trains_and_exposes_states_before_and_after_pooling(session):
    features = session.features("synthetic")
    params = TeacherParams(model={"architecture": "xvector", "width": 16, "embedding": 16}, epochs=8, lrs=(0.05,))
    teacher = get_teacher(
        features, params, session.profile.model, session.profile.protocol, session.device, session.cache_dir
    )
    x = features.test.x[:5]
    assert teacher.network.frames(x).shape == (5, 16, x.shape[-1])  # before pooling: per frame
    assert teacher.network.embed(x).shape == (5, 16)  # after pooling: per clip
    assert teacher.test_accuracy > 1 / features.num_classes  # it learned something


def test_a_teacher_trained_with_another_cpu_thread_count_is_another_artefact(session):
    features = session.features("synthetic")
    built = []
    for threads in (1, 2, 1):
        with cpu_threads(threads):
            teacher = get_teacher(
                features,
                TeacherParams(epochs=2, lrs=(0.05,)),
                session.profile.model,
                session.profile.protocol,
                session.device,
                session.cache_dir,
            )
        built.append(teacher.built)
    assert built == [True, True, False]


def _soft_set(path, session, shift: int) -> None:
    """Four real training clips per class, each labelled 0.9 on the class ``shift`` places after its own."""
    from bench.sets.files import LabelledSet, save_set

    features = session.features("synthetic")
    keep = torch.cat([torch.nonzero(features.train.y == c).flatten()[:4] for c in range(features.num_classes)])
    x, y = features.train.x[keep], features.train.y[keep]
    soft = torch.full((len(y), features.num_classes), 0.1 / (features.num_classes - 1))
    soft[torch.arange(len(y)), (y + shift) % features.num_classes] = 0.9
    save_set(path, LabelledSet(x, y, metadata={"technique": f"shift{shift}"}, soft=soft))


def test_the_own_labels_track_follows_the_sets_labels_where_kd_follows_the_teacher(tmp_path, session):
    (tmp_path / "params.yaml").write_text(KD_PARAMS + "  kd-own-labels: {seeds: [0, 1], teacher: {epochs: 8}}\n")
    base = ["--params", str(tmp_path / "params.yaml"), "--cache-dir", str(tmp_path / "cache"), "-q", "evaluate"]
    scores = {}
    for shift in (0, 1):
        _soft_set(tmp_path / f"s{shift}.safetensors", session, shift)
        out = tmp_path / f"s{shift}.json"
        args = ["--dataset", "synthetic", "--set", str(tmp_path / f"s{shift}.safetensors"), "--out", str(out)]
        result = CliRunner().invoke(cli, [*base, *args, "--track", "kd", "--track", "kd-own-labels"])
        assert result.exit_code == 0, result.output
        record = json.loads(out.read_text())["results"]
        scores[shift] = {t: record[t]["metrics"]["test_accuracy"]["mean"] for t in ("kd", "kd-own-labels")}
        assert record["kd-own-labels"]["protocol_id"] == "kd-own-labels-v1"
        assert not record["kd-own-labels"]["teacher_soft_labels"] and record["kd"]["teacher_soft_labels"]
    assert scores[0]["kd"] == scores[1]["kd"]  # the teacher's labels: the stored ones are never read
    assert scores[0]["kd-own-labels"] > 0.8 and scores[1]["kd-own-labels"] < 0.2, scores  # shifted labels, shifted


def test_the_own_labels_track_refuses_a_hard_label_set_and_a_switch_back_to_the_teacher(tmp_path):
    (tmp_path / "params.yaml").write_text(KD_PARAMS + "  kd-own-labels: {set_soft_labels: false}\n")
    base = ["--params", str(tmp_path / "params.yaml"), "--cache-dir", str(tmp_path / "cache"), "-q", "evaluate"]
    cell = ["--dataset", "synthetic", "--reference", "random", "--ipc", "2", "--track", "kd-own-labels"]
    result = CliRunner().invoke(cli, [*base, *cell, "--out", str(tmp_path / "a.json")])
    assert result.exit_code == 2 and "tracks.kd-own-labels.set_soft_labels" in result.output, result.output
    (tmp_path / "params.yaml").write_text(KD_PARAMS)
    result = CliRunner().invoke(cli, [*base, *cell, "--out", str(tmp_path / "a.json")])
    assert result.exit_code == 2 and "random has hard labels only" in result.output, result.output
    assert not (tmp_path / "a.json").exists()
