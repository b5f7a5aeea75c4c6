"""Transfer-learning probes and zero-shot rows (issue 19), on the real shared data and YAMNet's real weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bench.cli import cli
from bench.embedders import get_embedder
from bench.embedders.zero_shot import load_mapping
from bench.errors import UserError
from tests.conftest import REPO

YAMNET_SHA = "469be6a3421cbc52cf97e9f2f966cba984198e8e7af9854d68b3e3ebb1e04194"


def _yamnet(models_root: Path):
    cls = get_embedder("yamnet")
    return cls(cls.configure(), models_root)


def test_yamnet_embeddings_are_deterministic_and_1024_wide(models_root, data_root):
    import soundfile as sf

    from bench.embedders.store import resample

    paths = sorted((data_root / "fsdd" / "recordings").glob("*_jackson_0.wav"))[:3]
    waves = [resample(*sf.read(str(p), dtype="float32"), 16_000) for p in paths]
    first, second = _yamnet(models_root).embed_waveforms(waves), _yamnet(models_root).embed_waveforms(waves)
    assert first.shape == (3, 1024) and np.array_equal(first, second)
    assert not np.allclose(first[0], first[1])  # different digits, different embeddings
    scores = _yamnet(models_root).class_scores(waves[:1])
    assert scores.shape == (1, 521) and _yamnet(models_root).label_names()[int(scores.argmax())] == "Speech"


def test_a_missing_or_corrupt_model_file_is_one_line_naming_it_and_the_expected_sha256(tmp_path, models_root):
    with pytest.raises(UserError, match=rf"yamnet/yamnet.tflite: model file not found .*expects sha256 {YAMNET_SHA}"):
        _yamnet(tmp_path).embed_waveforms([np.zeros(16_000, dtype=np.float32)])
    (tmp_path / "yamnet").mkdir()
    shutil.copy(models_root / "yamnet" / "yamnet.tflite", tmp_path / "yamnet" / "yamnet.tflite")
    with open(tmp_path / "yamnet" / "yamnet.tflite", "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00" * 16)
    with pytest.raises(
        UserError, match=rf"yamnet.tflite: sha256 [0-9a-f]{{64}} differs from the expected {YAMNET_SHA}"
    ):
        _yamnet(tmp_path).embed_waveforms([np.zeros(16_000, dtype=np.float32)])
    with pytest.raises(UserError, match=r"no models root; pass --models-root"):
        _yamnet(None).embed_waveforms([np.zeros(16_000, dtype=np.float32)])


def _evaluate(tmp_path, feature_cache, models_root, data_root, command: str):
    """``distrack evaluate`` with ``command``'s options (one string, split on spaces); the record it wrote."""
    args = command.split()
    out = tmp_path / "record.json"
    base = ["--params", str(REPO / "params.yaml"), "--data-root", str(data_root), "--models-root", str(models_root)]
    result = CliRunner().invoke(
        cli, [*base, "--cache-dir", str(feature_cache), "-q", "evaluate", *args, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def test_the_mfcc_probe_on_a_random_ten_per_class_subset_beats_chance_on_fsdd(
    tmp_path, feature_cache, models_root, data_root
):
    record = _evaluate(
        tmp_path, feature_cache, models_root, data_root, "--dataset fsdd --reference random --ipc 10 --track probe-mfcc"
    )
    probe = record["results"]["probe-mfcc"]
    assert probe["protocol_id"] == "probe-mfcc-v2" and probe["model"]["name"] == "mfcc"
    assert probe["metrics"]["test_accuracy"]["mean"] > 0.3  # ten digits: chance is 0.1
    chosen = probe["chosen"]["classifier"]
    assert probe["metrics"]["test_accuracy"] == probe["metrics"][f"test_accuracy/{chosen}"]
    best_validation = max(probe["metrics"][f"validation_accuracy/{c}"]["mean"] for c in ("knn", "logreg", "linear-svm"))
    assert probe["metrics"]["validation_accuracy"]["mean"] == best_validation  # chosen on validation, not test
    assert sum(map(sum, probe["confusion"])) == record["dataset"]["split_sizes"]["test"]


def test_the_probe_fits_its_classifiers_with_one_blas_thread_whatever_the_caller_allows(
    tmp_path, feature_cache, models_root, data_root, monkeypatch
):
    """Protocol v2: with one thread per core, lbfgs's summation order (and so its optimum) followed the machine."""
    from threadpoolctl import threadpool_info, threadpool_limits

    import bench.evaluation.tracks.probe as probe

    seen: list[int] = []
    factories = probe.classifier_factories

    def spying():
        def counted(build):
            def pipeline(options):
                built = build(options)
                fit = built.fit
                built.fit = lambda x, y: seen.append(max(p["num_threads"] for p in threadpool_info())) or fit(x, y)
                return built

            return pipeline

        return {name: counted(build) for name, build in factories().items()}

    monkeypatch.setattr(probe, "classifier_factories", spying)
    factories()  # scikit-learn's pools loaded, so that two threads reach them here (threadpoolctl's rule)
    with threadpool_limits(limits=2):
        command = "--dataset fsdd --reference random --ipc 2 --track probe-mfcc"
        record = _evaluate(tmp_path, feature_cache, models_root, data_root, command)
    assert record["results"]["probe-mfcc"]["protocol_id"] == "probe-mfcc-v2"
    assert len(seen) == 12 and set(seen) == {1}  # four candidates each of knn, logreg and linear-svm


def test_the_yamnet_probe_embeds_real_items_from_their_audio_and_inverts_the_rest(
    tmp_path, feature_cache, models_root, data_root
):
    from bench.sets.files import load_set, save_set

    subset = tmp_path / "subset.safetensors"
    _evaluate(
        tmp_path,
        feature_cache,
        models_root,
        data_root,
        f"--dataset esc10 --reference random --ipc 2 --track probe-mfcc --save-set {subset}",
    )
    labelled = load_set(subset)
    labelled.x[0] = labelled.x[0] * 0.5  # one item that is no real clip any more
    save_set(subset, labelled)
    record = _evaluate(
        tmp_path, feature_cache, models_root, data_root, f"--dataset esc10 --set {subset} --track probe-yamnet"
    )
    rendering = record["results"]["probe-yamnet"]["rendering"]
    assert rendering == {"items_from_real_audio": 19, "items_inverted_griffin_lim": 1}


def test_the_zero_shot_row_on_esc10_needs_no_training_data(tmp_path, feature_cache, models_root, data_root):
    record = _evaluate(
        tmp_path, feature_cache, models_root, data_root, "--dataset esc10 --reference zero-shot --track probe-yamnet"
    )
    evaluated = record["evaluated_set"]
    assert evaluated["kind"] == "reference" and evaluated["num_items"] == 0 and evaluated["sha256"] is None
    zero_shot = record["results"]["probe-yamnet"]
    assert zero_shot["chosen"] == {"zero_shot": "esc10"}
    assert zero_shot["metrics"]["test_accuracy"]["mean"] > 0.5  # AudioSet knows dogs, rain and chainsaws


def test_a_zero_shot_mapping_naming_a_class_the_dataset_lacks_is_refused(models_root):
    labels = _yamnet(models_root).label_names()
    esc10 = [
        "Dog bark",
        "Rain",
        "Sea waves",
        "Baby cry",
        "Clock tick",
        "Person sneeze",
        "Helicopter",
        "Chainsaw",
        "Rooster",
        "Fire crackling",
    ]
    assert set(load_mapping("esc10", esc10, labels)) == set(esc10)
    with pytest.raises(UserError, match=r"esc10.yaml: class\(es\) Rooster are not classes of the dataset"):
        load_mapping("esc10", [c for c in esc10 if c != "Rooster"], labels)
    with pytest.raises(UserError, match=r"esc10.yaml: dataset class\(es\) Kettle have no mapping"):
        load_mapping("esc10", [*esc10, "Kettle"], labels)
    with pytest.raises(UserError, match=r"Dog bark: label\(s\) Dog are not in the embedder's label space"):
        load_mapping("esc10", esc10, [label for label in labels if label != "Dog"])


def test_the_probe_records_what_embedding_the_real_clips_cost(tmp_path, feature_cache, models_root, data_root):
    record = _evaluate(
        tmp_path, feature_cache, models_root, data_root, "--dataset esc10 --reference random --ipc 1 --track probe-mfcc"
    )
    cost = record["results"]["probe-mfcc"]["embedding_cost"]
    assert cost["clips"] == sum(record["dataset"]["split_sizes"].values()) and cost["seconds"] > 0
    assert cost["clips_per_second"] == pytest.approx(cost["clips"] / cost["seconds"])
