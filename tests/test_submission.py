"""The method-submission flow: `distrack validate`, `distrack submit` -> bundle -> `distrack verify`, with a
toy technique from an external package (entry point), and verify's refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from bench.cli import cli
from bench.hashing import sha256_file
from tests.conftest import TINY_PARAMS

GRID = "grid: {profile: tiny, datasets: [synthetic], techniques: [herding], ipc: [1, 2], seeds: [0]}\n"
META = ["--paper", "https://example.org/toy-paper", "--code-url", "https://example.org/toy-code", "--licence", "MIT"]


def _invoke(tmp_path: Path, *args: str):
    params = tmp_path / "params.yaml"
    if not params.exists():
        params.write_text(TINY_PARAMS + GRID)
    return CliRunner().invoke(cli, ["--params", str(params), "--cache-dir", str(tmp_path / "cache"), "-q", *args])


def test_validate_passes_a_sound_technique(tmp_path):
    result = _invoke(tmp_path, "validate", "dm", "--iterations", "3")
    assert result.exit_code == 0, result.output
    for check in ("registered", "parameter schema", "IPC too large", "deterministic", "budget respected", "resume"):
        assert any(line.startswith("PASS") and check in line for line in result.output.splitlines()), check
    assert "dm: all checks passed" in result.output


def test_validate_fails_a_sloppy_plugin_and_names_the_checks(toy_plugin, tmp_path):
    result = _invoke(tmp_path, "validate", "sloppy")
    assert result.exit_code == 1
    failed = {line.split(None, 1)[1].split("  ")[0] for line in result.output.splitlines() if line.startswith("FAIL")}
    assert failed == {"output shapes and labels", "deterministic"}  # the framework guards IPC itself


def test_validate_fails_a_plugin_that_looks_at_the_test_split(toy_plugin, tmp_path):
    result = _invoke(tmp_path, "validate", "peeking")
    assert result.exit_code == 1
    failing = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert any("distils" in line and "techniques never see the test split" in line for line in failing), failing


def test_validate_reports_an_unknown_technique(tmp_path):
    result = _invoke(tmp_path, "validate", "nope")
    assert result.exit_code == 1 and "unknown technique 'nope'" in result.output


@pytest.fixture
def bundle(toy_plugin, tmp_path) -> Path:
    out = tmp_path / "bundle"
    result = _invoke(tmp_path, "submit", "toy", "--out", str(out), *META)
    assert result.exit_code == 0, result.output
    return out


def _leaderboard(tmp_path: Path, results: Path) -> str:
    out = tmp_path / "board" / "README.md"
    result = CliRunner().invoke(cli, ["leaderboard", "build", "--results", str(results), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_text()


def _toy_rows(board: str) -> list[str]:
    """Rows of the overall table for the toy technique (the first table that lists techniques)."""
    return [line for line in board.splitlines() if line.startswith("| toy ")][:1]


def test_submit_then_verify_round_trip(bundle, tmp_path):
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert manifest["technique"] == "toy" and manifest["metadata"]["licence"] == "MIT"
    assert [(e["dataset"], e["ipc"]) for e in manifest["entries"]] == [("synthetic", 1), ("synthetic", 2)]
    for entry in manifest["entries"]:
        assert sha256_file(bundle / entry["set"]) == entry["set_sha256"]
        record = json.loads((bundle / entry["record"]).read_text())
        assert record["submission"]["status"] == "self-reported"
        assert record["evaluated_set"]["sha256"] == entry["set_sha256"]
    assert _toy_rows(_leaderboard(tmp_path, bundle / "records"))[0].count(" †") == 2  # IPC 1 and 2

    into = tmp_path / "verified"
    result = _invoke(tmp_path, "verify", str(bundle), "--into", str(into))
    assert result.exit_code == 0, result.output
    verified = sorted(into.rglob("*.json"))
    assert [p.name for p in verified] == ["toy-ipc1-seed0.json", "toy-ipc2-seed0.json"]
    for path in verified:
        record = json.loads(path.read_text())
        check = record["submission"]["verification"]
        assert record["submission"]["status"] == "verified"
        assert check["measured_test_mean"] == pytest.approx(check["reported_test_mean"], abs=1e-9)  # same CPU
    (row,) = _toy_rows(_leaderboard(tmp_path, into))
    assert row.count(" ✓") == 2 and " †" not in row


def test_verify_refuses_a_tampered_set(bundle, tmp_path):
    entry = json.loads((bundle / "bundle.json").read_text())["entries"][0]
    data = bytearray((bundle / entry["set"]).read_bytes())
    data[-1] ^= 0x01  # one bit of one float
    (bundle / entry["set"]).write_bytes(bytes(data))
    result = _invoke(tmp_path, "verify", str(bundle), "--into", str(tmp_path / "verified"))
    assert result.exit_code == 2 and "does not match the manifest" in result.output
    assert not (tmp_path / "verified").exists()


def test_verify_refuses_a_pickle_even_with_a_matching_hash(bundle, tmp_path):
    manifest_path = bundle / "bundle.json"
    manifest = json.loads(manifest_path.read_text())
    entry = manifest["entries"][0]
    torch.save({"x": torch.zeros(4, 1, 16, 16), "y": torch.arange(4)}, bundle / entry["set"])
    entry["set_sha256"] = sha256_file(bundle / entry["set"])  # a careful attacker updates the manifest too
    manifest_path.write_text(json.dumps(manifest))
    result = _invoke(tmp_path, "verify", str(bundle), "--into", str(tmp_path / "verified"))
    assert result.exit_code == 2 and "pickle" in result.output
    assert not (tmp_path / "verified").exists()


def test_verify_refuses_wrong_labels_paths_outside_and_inflated_accuracy(bundle, tmp_path):
    from bench.sets.files import LabelledSet, load_set, save_set

    pristine = tmp_path / "pristine"
    shutil.copytree(bundle, pristine)
    manifest_path = bundle / "bundle.json"
    manifest = json.loads(manifest_path.read_text())
    entry = manifest["entries"][1]  # IPC 2: relabel one item so every class is present but unbalanced
    labelled = load_set(bundle / entry["set"])
    labels = torch.tensor([0, 0, 0, 1, 2, 2, 3, 3])
    save_set(bundle / entry["set"], LabelledSet(labelled.x, labels, None, labelled.metadata))
    entry["set_sha256"] = sha256_file(bundle / entry["set"])
    manifest_path.write_text(json.dumps(manifest))
    result = _invoke(tmp_path, "verify", str(bundle))
    assert result.exit_code == 2 and "expected 2 item(s) in each class, found [3, 1, 2, 2]" in result.output

    manifest["entries"][0]["set"] = "../../elsewhere.safetensors"
    manifest_path.write_text(json.dumps(manifest))
    result = _invoke(tmp_path, "verify", str(bundle))
    assert result.exit_code == 2 and "points outside the bundle" in result.output

    record_path = pristine / json.loads((pristine / "bundle.json").read_text())["entries"][1]["record"]
    record = json.loads(record_path.read_text())
    accuracy = record["results"]["convnet"]["metrics"]["test_accuracy"]
    accuracy["mean"] = accuracy["mean"] + 0.2 if accuracy["mean"] <= 0.8 else accuracy["mean"] - 0.2
    record_path.write_text(json.dumps(record))
    into = tmp_path / "verified"
    result = _invoke(tmp_path, "verify", str(pristine), "--into", str(into))
    assert result.exit_code == 2 and "MISMATCH" in result.output and "nothing written" in result.output
    assert not into.exists()


def test_the_contributing_guide_plugin_example_installs_and_runs(tmp_path, monkeypatch):
    """The guide's package, installed as a real distribution: its technique passes `distrack validate`, its
    track is listed by `distrack tracks` and scores a set, and it imports from bench.api alone."""
    import re
    import sys

    from bench.registry import reload_plugins

    guide = (Path(__file__).resolve().parent.parent / "CONTRIBUTING.md").read_text()
    code = re.search(r"<!-- plugin-example:start -->\n```python\n(.*?)```\n<!-- plugin-example:end -->", guide, re.S)
    assert code is not None
    imports = re.findall(r"^from (bench[\w.]*) import", code[1], re.M)
    assert imports == ["bench.api"], imports
    groups = re.findall(r'\[project.entry-points."(distrackted\.\w+)"\]\n([\w-]+) = "([\w.:]+)"', guide)
    assert [g[0] for g in groups] == ["distrackted.techniques", "distrackted.tracks"]
    site = tmp_path / "site"
    (site / "distrack_centroid").mkdir(parents=True)
    (site / "distrack_centroid" / "__init__.py").write_text(code[1])
    info = site / "distrack_centroid-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: distrack-centroid\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("".join(f"[{g}]\n{name} = {target}\n" for g, name, target in groups))
    monkeypatch.syspath_prepend(str(site))
    reload_plugins()
    try:
        result = _invoke(tmp_path, "validate", "centroid")
        assert result.exit_code == 0, result.output
        assert "PASS  resume" in result.output and "centroid: all checks passed" in result.output
        listed = _invoke(tmp_path, "tracks")
        assert re.search(r"nearest-neighbour\s+track\s+nearest-neighbour-logmel-v1.*plug-in", listed.output)
        out = tmp_path / "nn.json"
        scored = _invoke(
            tmp_path,
            "evaluate",
            "--dataset",
            "synthetic",
            "--reference",
            "random",
            "--ipc",
            "2",
            "--track",
            "nearest-neighbour",
            "--out",
            str(out),
        )
        assert scored.exit_code == 0, scored.output
        entry = json.loads(out.read_text())["results"]["nearest-neighbour"]
        assert entry["protocol_id"] == "nearest-neighbour-logmel-v1" and entry["seeds"] == [0]
        assert 0.25 < entry["metrics"]["test_accuracy"]["mean"] <= 1.0  # four classes: above chance
    finally:
        monkeypatch.undo()
        sys.modules.pop("distrack_centroid", None)
        reload_plugins()
