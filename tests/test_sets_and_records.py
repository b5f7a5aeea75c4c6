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
from bench.evaluation.sets import LabelledSet, load_set, save_set


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
    assert "synthetic random ipc=2: test" in result.output
    return json.loads(out.read_text())


def test_cli_evaluate_writes_a_valid_record(record):
    validate_record(record)
    assert record["evaluated_set"]["ipc"] == 2 and record["evaluated_set"]["num_items"] == 8
    assert record["results"]["seeds"] == [0, 1]
    assert len(record["results"]["test_accuracy"]["per_seed"]) == 2
    assert record["profile"] == "tiny" and record["protocol"]["id"] == "convnet-sgd-v1"
    assert record["environment"]["torch"].startswith("2.11.0")


@pytest.mark.parametrize("field", record_schema()["required"])
def test_schema_rejects_a_record_missing_any_required_field(record, field):
    broken = copy.deepcopy(record)
    del broken[field]
    with pytest.raises(UserError, match=rf"'{field}' is a required property"):
        validate_record(broken, "broken.json")


def test_schema_error_names_the_nested_field(record):
    broken = copy.deepcopy(record)
    broken["results"]["test_accuracy"]["mean"] = 1.7
    with pytest.raises(UserError, match=r"broken.json: field results/test_accuracy/mean"):
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
            "--no-prototype",
            "--out",
            str(tmp_path / "b.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    rec = json.loads((tmp_path / "b.json").read_text())
    assert rec["evaluated_set"]["technique"] == "random" and rec["results"]["prototype_test_accuracy"] is None
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
    cell = ["--dataset", "synthetic", "--reference", "random", "--ipc", "1", "--epochs", "2", "--no-prototype"]
    out = tmp_path / "fast.json"
    result = runner.invoke(cli, [*base, *cell, "--accelerate", "channels_last,bf16", "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    validate_record(record)
    assert record["protocol"]["acceleration"] == ["channels_last", "bf16"]
    result = runner.invoke(cli, [*base, *cell, "--accelerate", "turbo", "--out", str(tmp_path / "x.json")])
    assert result.exit_code != 0 and "unknown option(s) turbo" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x.json").exists()
