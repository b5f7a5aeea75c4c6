"""Set files (safetensors only) and result records (versioned JSON schema)."""

import copy
import json
import pickle

import pytest
import torch
from click.testing import CliRunner

from bench.cli import cli
from bench.errors import UserError
from bench.evaluation.records import record_schema, validate_record
from bench.sets.files import LabelledSet, load_set, save_set


def _set(n_classes=3, ipc=2, shape=(1, 4, 5)):
    y = torch.arange(n_classes).repeat_interleave(ipc)
    return LabelledSet(torch.randn(len(y), *shape), y, lr=0.02, metadata={"technique": "toy", "ipc": ipc})


def test_round_trip(tmp_path):
    original = _set()
    save_set(tmp_path / "s.safetensors", original)
    loaded = load_set(tmp_path / "s.safetensors", shape=(1, 4, 5), num_classes=3)
    assert torch.equal(loaded.x, original.x) and torch.equal(loaded.y, original.y)
    assert loaded.lr == pytest.approx(0.02) and loaded.metadata["technique"] == "toy" and loaded.ipc == 2
    assert [p.name for p in tmp_path.iterdir()] == ["s.safetensors"]


def test_pickles_are_refused_unread(tmp_path):
    path = tmp_path / "evil.safetensors"
    torch.save({"x": torch.zeros(1)}, path)
    with pytest.raises(UserError, match="pickle"):
        load_set(path)
    path.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(UserError, match="pickle"):
        load_set(path)


def test_a_set_whose_header_length_starts_with_the_pickle_byte_loads(tmp_path):
    """Regression: a safetensors header of length 0x..80 made the file's first byte 0x80, the pickle mark,
    and a valid set was refused (the smoke pipeline hit it when a new parameter changed the metadata)."""
    path = tmp_path / "s.safetensors"
    for padding in range(256):
        labelled = LabelledSet(torch.zeros(2, 1, 4, 5), torch.tensor([0, 1]), metadata={"pad": "p" * padding})
        save_set(path, labelled)
        if path.read_bytes()[:1] == b"\x80":
            break
    assert path.read_bytes()[:1] == b"\x80"
    assert load_set(path).metadata == {"pad": "p" * padding}


@pytest.mark.parametrize(
    ("shape", "n_classes", "message"),
    [
        ((1, 4, 6), 3, r"items have shape \(1, 4, 5\)"),
        ((1, 4, 5), 2, r"labels must lie in \[0, 2\)"),
        ((1, 4, 5), 4, r"class\(es\) \[3\] have no items"),
    ],
)
def test_wrong_shape_or_labels_are_named(tmp_path, shape, n_classes, message):
    save_set(tmp_path / "s.safetensors", _set())
    with pytest.raises(UserError, match=message):
        load_set(tmp_path / "s.safetensors", shape=shape, num_classes=n_classes)


def test_truncated_set_file(tmp_path):
    path = tmp_path / "s.safetensors"
    save_set(path, _set())
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(UserError, match="not a readable safetensors file"):
        load_set(path)


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    out = tmp_path_factory.mktemp("rec") / "record.json"
    params = tmp_path_factory.getbasetemp() / "tiny.yaml"
    from tests.conftest import TINY_PARAMS

    params.write_text(TINY_PARAMS)
    result = CliRunner().invoke(
        cli,
        [
            "--params",
            str(params),
            "--cache-dir",
            str(out.parent / "cache"),
            "-q",
            "evaluate",
            "--dataset",
            "synthetic",
            "--reference",
            "random",
            "--ipc",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "synthetic random ipc=2: convnet " in result.output and "; nearest-mean " in result.output
    return json.loads(out.read_text())


def test_cli_evaluate_writes_a_valid_record(record):
    validate_record(record)
    evaluated = record["evaluated_set"]
    assert evaluated["ipc"] == 2 and evaluated["num_items"] == 8 and evaluated["kind"] == "reference"
    assert evaluated["budget"] == {"items_per_class": 2, "stored_bytes": 8 * (16 * 16 * 4 + 8)}
    assert set(record["results"]) == {"convnet", "nearest-mean"}
    convnet = record["results"]["convnet"]
    assert convnet["seeds"] == [0, 1] and convnet["main_score"] == "test_accuracy"
    assert len(convnet["metrics"]["test_accuracy"]["per_seed"]) == 2
    assert record["profile"] == "tiny" and convnet["protocol_id"] == "convnet-sgd-v1"
    assert sum(map(sum, convnet["confusion"])) == 2 * record["dataset"]["split_sizes"]["test"]
    assert record["environment"]["torch"].startswith("2.11.0")


@pytest.mark.parametrize("field", record_schema()["required"])
def test_schema_rejects_a_record_missing_any_required_field(record, field):
    broken = copy.deepcopy(record)
    del broken[field]
    with pytest.raises(UserError, match=rf"'{field}' is a required property"):
        validate_record(broken, "broken.json")


def test_schema_error_names_the_nested_field(record):
    broken = copy.deepcopy(record)
    broken["results"]["convnet"]["metrics"]["test_accuracy"]["std"] = -1
    with pytest.raises(UserError, match=r"broken.json: field results/convnet/metrics/test_accuracy/std"):
        validate_record(broken, "broken.json")
    broken = copy.deepcopy(record)
    broken["results"]["nearest-mean"]["main_score"] = "f1"
    with pytest.raises(UserError, match=r"results/nearest-mean: main_score 'f1' is not among its metrics"):
        validate_record(broken, "broken.json")


def test_evaluate_a_set_file_and_invert_it_to_audio(tmp_path, tiny_params):
    runner = CliRunner()
    base = ["--params", str(tiny_params), "--cache-dir", str(tmp_path / "cache"), "-q"]
    saved = tmp_path / "subset.safetensors"
    result = runner.invoke(
        cli,
        [
            *base,
            "evaluate",
            "--dataset",
            "synthetic",
            "--reference",
            "random",
            "--ipc",
            "1",
            "--save-set",
            str(saved),
            "--epochs",
            "2",
            "--out",
            str(tmp_path / "a.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli,
        [
            *base,
            "evaluate",
            "--dataset",
            "synthetic",
            "--set",
            str(saved),
            "--epochs",
            "2",
            "--track",
            "convnet",
            "--out",
            str(tmp_path / "b.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    rec = json.loads((tmp_path / "b.json").read_text())
    assert rec["evaluated_set"]["technique"] == "random" and rec["evaluated_set"]["kind"] == "file"
    assert set(rec["results"]) == {"convnet"}
    result = runner.invoke(
        cli,
        [
            *base,
            "invert",
            "--dataset",
            "synthetic",
            "--set",
            str(saved),
            "--out-dir",
            str(tmp_path / "wav"),
            "--iterations",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    import soundfile as sf

    wavs = sorted((tmp_path / "wav").glob("*.wav"))
    assert len(wavs) == 4
    info = sf.info(str(wavs[0]))
    assert info.samplerate == 8000 and info.frames == 15 * 128


def test_cli_evaluate_records_its_acceleration_and_refuses_unknown_ones(tmp_path, tiny_params):
    runner = CliRunner()
    base = ["--params", str(tiny_params), "--cache-dir", str(tmp_path / "cache"), "-q", "evaluate"]
    cell = ["--dataset", "synthetic", "--reference", "random", "--ipc", "1", "--epochs", "2", "--track", "convnet"]
    out = tmp_path / "fast.json"
    result = runner.invoke(cli, [*base, *cell, "--accelerate", "channels_last,bf16", "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    validate_record(record)
    assert record["results"]["convnet"]["acceleration"] == ["channels_last", "bf16"]
    assert record["results"]["convnet"]["protocol_id"] == "convnet-sgd-v1+channels_last+bf16"
    result = runner.invoke(cli, [*base, *cell, "--accelerate", "turbo", "--out", str(tmp_path / "x.json")])
    assert result.exit_code != 0 and "unknown option(s) turbo" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x.json").exists()


def test_identical_runs_write_identical_bytes(tmp_path):
    """No timings in a set file and one metadata entry: a pinned sha256 matches a re-run."""
    for name in ("a", "b"):
        save_set(tmp_path / f"{name}.safetensors", _set())
    torch.manual_seed(0)
    first = _set()
    torch.manual_seed(0)
    second = _set()
    save_set(tmp_path / "a.safetensors", first)
    save_set(tmp_path / "b.safetensors", second)
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def test_a_version_1_set_file_still_loads(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "v1.safetensors"
    x, y = torch.randn(4, 1, 4, 5), torch.tensor([0, 0, 1, 1])
    save_file({"x": x, "y": y}, str(path), metadata={"distrack": json.dumps({"technique": "dm", "ipc": 2})})
    loaded = load_set(path, shape=(1, 4, 5), num_classes=2)
    assert torch.equal(loaded.x, x) and loaded.metadata == {"technique": "dm", "ipc": 2}
    assert loaded.domain == "logmel" and loaded.soft is None and loaded.labels == "hard"


def test_soft_labels_round_trip_and_soft_only_sets_take_the_argmax(tmp_path):
    soft = torch.softmax(torch.randn(6, 3, generator=torch.Generator().manual_seed(1)), dim=1)
    labelled = _set()
    labelled.soft = soft
    save_set(tmp_path / "soft.safetensors", labelled)
    loaded = load_set(tmp_path / "soft.safetensors", shape=(1, 4, 5), num_classes=3)
    assert torch.equal(loaded.soft, soft) and torch.equal(loaded.y, labelled.y) and loaded.labels == "soft"
    assert loaded.describe()["budget"]["stored_bytes"] == 6 * (4 * 5 * 4 + 8 + 3 * 4)
    from safetensors.torch import save_file

    only = tmp_path / "soft-only.safetensors"
    save_file({"x": labelled.x, "soft": soft}, str(only))
    assert torch.equal(load_set(only).y, soft.argmax(dim=1))


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"x": torch.full((2, 1, 4, 5), float("nan")), "y": torch.tensor([0, 1])}, r"x contains NaN"),
        ({"x": torch.randn(2, 4, 5), "y": torch.tensor([0, 1])}, r"x must be a float tensor \(n, 1, n_mels, frames\)"),
        ({"x": torch.randn(2, 1, 4, 5), "soft": torch.tensor([[0.7, 0.7], [0.5, 0.5]])}, r"must sum to 1"),
        (
            {"x": torch.randn(2, 1, 4, 5), "soft": torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])},
            r"soft labels have 3 classes",
        ),
        ({"x": torch.randn(2, 1, 4, 5), "soft": torch.tensor([[1.5, -0.5], [0, 1.0]])}, r"probabilities >= 0"),
        ({"x": torch.randn(2, 1, 4, 5)}, r"expected tensors x, y and/or soft"),
    ],
)
def test_bad_sets_are_refused_with_one_line_naming_the_file(tmp_path, tensors, message):
    from safetensors.torch import save_file

    path = tmp_path / "bad.safetensors"
    save_file(tensors, str(path))
    with pytest.raises(UserError, match=message) as caught:
        load_set(path, shape=(1, 4, 5), num_classes=2)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_a_factorised_set_decodes_into_its_training_items(tmp_path):
    from bench.sets.items import training_items

    stored = LabelledSet(
        torch.randn(4, 1, 4, 8), torch.tensor([0, 0, 1, 1]), decoder={"name": "time-segments", "factor": 2}
    )
    save_set(tmp_path / "f.safetensors", stored)
    loaded = load_set(tmp_path / "f.safetensors", shape=(1, 4, 8), num_classes=2)
    items = training_items(loaded, None, 0.0, 1.0)  # type: ignore[arg-type]
    assert items.x.shape == (8, 1, 4, 8) and items.y.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    # item 0 is the first half of stored item 0, stretched: its first and last frames are the half's
    torch.testing.assert_close(items.x[0, ..., 0], stored.x[0, ..., 0])
    torch.testing.assert_close(items.x[0, ..., -1], stored.x[0, ..., 3])
    torch.testing.assert_close(items.x[1, ..., -1], stored.x[0, ..., 7])
    upsampled = LabelledSet(torch.randn(2, 1, 2, 4), torch.tensor([0, 1]), decoder={"name": "upsample", "factor": 2})
    save_set(tmp_path / "u.safetensors", upsampled)
    assert load_set(tmp_path / "u.safetensors", shape=(1, 4, 8)).decoder == {"name": "upsample", "factor": 2}
    with pytest.raises(UserError, match=r"items have shape \(1, 4, 8\) but the dataset's features are"):
        load_set(tmp_path / "u.safetensors", shape=(1, 8, 16))
    bad = LabelledSet(torch.randn(2, 1, 4, 7), torch.tensor([0, 1]), decoder={"name": "time-segments", "factor": 2})
    save_set(tmp_path / "bad.safetensors", bad)
    with pytest.raises(UserError, match=r"do not split into 2 segments"):
        load_set(tmp_path / "bad.safetensors")
    wrong = LabelledSet(torch.randn(2, 1, 4, 8), torch.tensor([0, 1]), decoder={"name": "zip"})
    save_set(tmp_path / "zip.safetensors", wrong)
    with pytest.raises(UserError, match=r"unknown decoder 'zip'"):
        load_set(tmp_path / "zip.safetensors")


def test_a_waveform_set_trains_through_the_front_end(tmp_path):
    from bench.params import FeatureParams
    from bench.sets.items import training_items

    params = FeatureParams(sample_rate=8000, n_fft=256, hop_length=128, n_mels=16, frames=16)
    waves = torch.randn(2, params.num_samples, generator=torch.Generator().manual_seed(0))
    save_set(tmp_path / "w.safetensors", LabelledSet(waves, torch.tensor([0, 1]), domain="waveform"))
    loaded = load_set(tmp_path / "w.safetensors", num_samples=params.num_samples, num_classes=2)
    assert loaded.domain == "waveform"
    items = training_items(loaded, params, mean=-3.0, std=2.0)
    assert items.x.shape == (2, *params.shape)
    with pytest.raises(UserError, match=rf"waveforms have {params.num_samples} samples but the features need 99"):
        load_set(tmp_path / "w.safetensors", num_samples=99)


def test_version_1_records_are_refused_with_a_pointer_and_migrate_number_for_number(tmp_path):
    from pathlib import Path

    from bench.evaluation.migrate import migrate_v1

    fixtures = Path(__file__).parent / "fixtures"
    for name in ("record-v1-dsa.json", "record-v1-full.json"):
        old = json.loads((fixtures / name).read_text())
        with pytest.raises(UserError, match=r"schema-version-1 record; convert it with `distrack records migrate"):
            validate_record(old, name)
        new = migrate_v1(old)
        validate_record(new, name)
        convnet = new["results"]["convnet"]
        assert convnet["metrics"]["test_accuracy"] == old["results"]["test_accuracy"]
        assert convnet["metrics"]["validation_accuracy"] == old["results"]["validation_accuracy"]
        if old["results"]["prototype_test_accuracy"] is None:
            assert "nearest-mean" not in new["results"]
        else:
            prototype = new["results"]["nearest-mean"]["metrics"]["test_accuracy"]
            assert prototype == old["results"]["prototype_test_accuracy"]
        assert convnet["params"]["epochs"] == old["protocol"]["params"]["epochs"]
        assert convnet["model"] == {"architecture": "convnet", **old["protocol"]["model"]}
    assert (
        migrate_v1(json.loads((fixtures / "record-v1-full.json").read_text()))["evaluated_set"]["kind"] == "reference"
    )
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "a.json").write_text((fixtures / "record-v1-dsa.json").read_text())
    runner = CliRunner()
    assert runner.invoke(cli, ["records", "migrate", "--check", str(folder)]).exit_code == 1
    result = runner.invoke(cli, ["records", "migrate", str(folder)])
    assert result.exit_code == 0 and "migrated 1 record(s)" in result.output
    validate_record(json.loads((folder / "a.json").read_text()))
    assert "0 record(s); 1 already" in runner.invoke(cli, ["records", "migrate", str(folder)]).output
    # an early version-2 record, whose nearest-mean score was still called the prototype track
    early = json.loads((folder / "a.json").read_text())
    score = early["results"].pop("nearest-mean")
    early["results"]["prototype"] = {**score, "protocol_id": "prototype-random-net-v1"}
    (folder / "a.json").write_text(json.dumps(early))
    assert "migrated 1 record(s)" in runner.invoke(cli, ["records", "migrate", str(folder)]).output
    renamed = json.loads((folder / "a.json").read_text())["results"]
    assert "prototype" not in renamed and renamed["nearest-mean"] == {**score}
    assert renamed["convnet"] == early["results"]["convnet"]
