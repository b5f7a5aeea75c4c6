"""The fixed evaluation protocol: determinism, final-epoch reporting, and real accuracy."""

import dataclasses
import shutil

import pytest
import torch

from bench.data.registry import get_dataset, open_dataset
from bench.evaluation.protocol import accuracy, evaluate_set, lr_at_epoch, train_network
from bench.evaluation.tracks.base import TrackContext
from bench.evaluation.tracks.nearest_mean import NearestMeanParams, NearestMeanTrack
from bench.features.store import load_feature_set
from bench.models import ModelSpec, build_model
from bench.params import ProtocolParams, load_profile
from bench.sets.files import LabelledSet
from bench.sets.references import random_real_subset
from tests.test_bad_input import FEATURES

CPU = torch.device("cpu")
TINY_MODEL = ModelSpec.parse({"architecture": "convnet", "depth": 2, "width": 16}, "model")


def _full(features):
    return LabelledSet(features.train.x, features.train.y)


@pytest.fixture(scope="module")
def synthetic():
    return load_feature_set(get_dataset("synthetic").from_config(None, {}), FEATURES, None)


def test_step_schedule():
    protocol = ProtocolParams(epochs=10, lr_decay_at=0.5)
    assert [lr_at_epoch(protocol, 0.01, e) for e in (0, 4, 5, 9)] == pytest.approx([0.01, 0.01, 0.001, 0.001])


def test_same_seed_same_accuracy_on_cpu(synthetic):
    subset = random_real_subset(synthetic, 4, seed=3)
    protocol = ProtocolParams(epochs=15, seeds=(0, 1), batch_size=8)
    first = evaluate_set(subset.x, subset.y, synthetic, TINY_MODEL, protocol, CPU)
    second = evaluate_set(subset.x, subset.y, synthetic, TINY_MODEL, protocol, CPU)
    assert [s.test_accuracy for s in first.seeds] == [s.test_accuracy for s in second.seeds]
    assert [s.final_train_loss for s in first.seeds] == [s.final_train_loss for s in second.seeds]
    again = random_real_subset(synthetic, 4, seed=3)
    assert torch.equal(again.x, subset.x)


def test_reports_the_final_epoch_model(synthetic):
    """The reported accuracy is that of the network after the last epoch, recomputed independently."""
    protocol = ProtocolParams(epochs=12, seeds=(5,), batch_size=16)
    data = _full(synthetic)
    result = evaluate_set(data.x, data.y, synthetic, TINY_MODEL, protocol, CPU)
    model, _ = train_network(data.x, data.y, synthetic.num_classes, TINY_MODEL, protocol, 5, CPU)
    assert result.seeds[0].test_accuracy == accuracy(model, synthetic.test, CPU)


def test_learns_synthetic_classes_well_above_chance(synthetic):
    data = _full(synthetic)
    result = evaluate_set(data.x, data.y, synthetic, TINY_MODEL, ProtocolParams(epochs=30, seeds=(0,)), CPU)
    assert result.test_mean >= 0.9  # four easy classes; chance is 0.25
    track = NearestMeanTrack(NearestMeanParams(), TrackContext(TINY_MODEL, ProtocolParams(epochs=1, seeds=(0, 1))))
    prototypes = track.evaluate(LabelledSet(data.x, data.y), synthetic)
    assert prototypes.seeds == [0, 1] and prototypes.summary()[0] > 0.5


def test_fsdd_random_ten_per_class_beats_chance_clearly(data_root, repo_params, feature_cache):
    """The protocol on real spoken digits: a 10-per-class random subset, quick features, a reduced budget."""
    profile = load_profile(repo_params, "quick")
    features = load_feature_set(
        open_dataset("fsdd", data_root, repo_params), profile.features_for("fsdd"), feature_cache
    )
    subset = random_real_subset(features, 10, seed=0)
    protocol = dataclasses.replace(profile.protocol, epochs=100, seeds=(0, 1))
    narrow = ModelSpec.parse({"width": 32}, "test", base=profile.model)
    result = evaluate_set(subset.x, subset.y, features, narrow, protocol, CPU)
    assert result.test_mean > 0.5, result  # chance is 0.1


def test_vectorised_evaluation_equals_the_sequential_one():
    """K seeds trained together (torch.func) reach the same networks as K sequential runs, up to float
    reassociation (1e-7 after 4 epochs here; it grows with training length, as any reordering does)."""
    from bench.evaluation.vectorised import train_networks

    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(12, 1, 16, 16, generator=generator), torch.arange(4).repeat_interleave(3)
    model = ModelSpec.parse({"architecture": "convnet", "depth": 2, "width": 8}, "model")
    protocol = ProtocolParams(epochs=4, seeds=[0, 1, 2], batch_size=5, lr=0.05, lr_decay_at=0.5)  # 3 batches/epoch
    together, losses = train_networks(x, y, 4, model, protocol, torch.device("cpu"))
    for seed, network, loss in zip(protocol.seeds, together, losses, strict=True):
        alone, alone_loss = train_network(x, y, 4, model, protocol, seed, torch.device("cpu"))
        for mine, theirs in zip(network.parameters(), alone.parameters(), strict=True):
            torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-5)
        assert loss == pytest.approx(alone_loss, rel=1e-5)
    moved = next(together[0].parameters()) - _initial_first_layer(model, x)
    assert moved.abs().max() > 1e-3  # training did happen


@pytest.mark.parametrize(
    ("profile", "ipc", "gflop", "together"),
    [
        ("quick", 50, 1.66, True),
        ("standard", 1, 3.73, True),
        ("standard", 2, 7.46, True),
        ("standard", 10, 37.28, False),
    ],
)
def test_auto_vectorises_only_steps_below_the_measured_crossover(repo_params, profile, ipc, gflop, together):
    """On an H200 (benchmarks.vectorise_crossover) the seeds trained together were faster up to 7.5 GFLOP of
    forward work per step and slower from 11.2 on: the standard profile's IPC 10 evaluation took 1.5x longer
    vectorised, which ``auto`` used to pick on every GPU. A step is at most one batch of the set."""
    from bench.evaluation.vectorised import MAX_STEP_GFLOP, step_forward_gflop

    chosen = load_profile(repo_params, profile)
    shape = chosen.features.shape
    network = chosen.model.build(shape, 10, 0)
    work = step_forward_gflop(network, torch.zeros((10 * ipc, *shape)), chosen.protocol.batch_size)
    assert work == pytest.approx(gflop, abs=0.01)
    assert (work <= MAX_STEP_GFLOP) == together


def _initial_first_layer(model, x):
    return next(build_model(model, tuple(x.shape[1:]), 4, 0).parameters())


def test_evaluate_set_gives_the_same_accuracies_vectorised_or_not(feature_cache):
    from bench.data.registry import open_dataset as open_named

    params = {"datasets": {"synthetic": {"num_classes": 4, "clips_per_class": 24}}}
    feats = load_feature_set(open_named("synthetic", None, params), FEATURES, feature_cache)
    subset = random_real_subset(feats, 2, 0)
    protocol = ProtocolParams(epochs=4, seeds=[0, 1, 2], batch_size=64)
    model = ModelSpec.parse({"architecture": "convnet", "depth": 2, "width": 8}, "model")
    runs = {
        mode: evaluate_set(subset.x, subset.y, feats, model, protocol, torch.device("cpu"), vectorise=mode)
        for mode in ("on", "off")
    }
    for field in ("seed", "test_accuracy", "validation_accuracy", "confusion"):
        assert [getattr(s, field) for s in runs["on"].seeds] == [getattr(s, field) for s in runs["off"].seeds]
    assert sum(map(sum, runs["on"].seeds[0].confusion)) == len(feats.test)


@pytest.mark.parametrize(
    "names",
    [
        "channels_last",
        "bf16",
        pytest.param(
            "compile",
            marks=pytest.mark.skipif(shutil.which("cc") is None, reason="torch.compile on CPU needs a C compiler"),
        ),
    ],
)
def test_accelerated_evaluation_still_learns(synthetic, names):
    """Each opt-in speed-up trains networks that learn the easy synthetic classes like the plain path;
    channels_last only changes the memory layout, so its networks match the plain ones closely."""
    from bench.evaluation.acceleration import Acceleration

    data = _full(synthetic)
    protocol = ProtocolParams(epochs=30, seeds=(0,))
    acceleration = Acceleration.parse(names)
    result = evaluate_set(data.x, data.y, synthetic, TINY_MODEL, protocol, CPU, acceleration=acceleration)
    assert result.test_mean >= 0.9  # chance is 0.25
    if names == "channels_last":
        fast, _ = train_network(data.x, data.y, 4, TINY_MODEL, protocol, 0, CPU, acceleration=acceleration)
        plain, _ = train_network(data.x, data.y, 4, TINY_MODEL, protocol, 0, CPU)
        for mine, theirs in zip(fast.parameters(), plain.parameters(), strict=True):
            torch.testing.assert_close(mine, theirs, rtol=1e-3, atol=1e-4)


def test_chunked_training_matches_whole_batches_and_needs_a_per_sample_norm(synthetic, monkeypatch):
    """Pieces of a batch, each loss weighted by its share, give the whole batch's gradient up to float
    rounding; with batchnorm they would not, so it is refused."""
    from bench.errors import UserError
    from bench.evaluation.acceleration import Acceleration

    monkeypatch.setattr("bench.models.base.CHUNK_ACTIVATION_BYTES", 1)  # pieces of MIN_CHUNK (8) items
    data = _full(synthetic)
    protocol = ProtocolParams(epochs=3, seeds=(0,), batch_size=20)  # pieces of 8, 8 and 4
    small_chunks = ModelSpec.parse({"architecture": "convnet", "depth": 2, "width": 16}, "model")
    chunked = Acceleration.parse("chunked")
    plain, plain_loss = train_network(data.x, data.y, 4, small_chunks, protocol, 0, CPU)
    model = build_model(small_chunks, tuple(data.x.shape[1:]), 4, 0)
    assert model.chunk < protocol.batch_size < len(data.x)  # several pieces per batch, several batches
    fast, fast_loss = train_network(data.x, data.y, 4, small_chunks, protocol, 0, CPU, acceleration=chunked)
    assert fast_loss == pytest.approx(plain_loss, rel=1e-4)
    for mine, theirs in zip(fast.parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)
    with pytest.raises(UserError, match=r"chunked needs a per-sample norm; model .*'norm': 'batchnorm'"):
        train_network(
            data.x,
            data.y,
            4,
            ModelSpec.parse({"architecture": "convnet", "depth": 2, "width": 16, "norm": "batchnorm"}, "model"),
            protocol,
            0,
            CPU,
            acceleration=chunked,
        )


def test_unknown_acceleration_and_vectorised_acceleration_are_refused(synthetic):
    from bench.errors import UserError
    from bench.evaluation.acceleration import Acceleration

    with pytest.raises(UserError, match=r"unknown option.*fp8"):
        Acceleration.parse("bf16,fp8")
    data = _full(synthetic)
    with pytest.raises(UserError, match="--accelerate and evaluation-time augmentation apply to sequential"):
        evaluate_set(
            data.x,
            data.y,
            synthetic,
            TINY_MODEL,
            ProtocolParams(epochs=1, seeds=(0,)),
            CPU,
            vectorise="on",
            acceleration=Acceleration(bf16=True),
        )
