"""`distrack leaderboard build`: schema checks per required field, byte-identical output, bold/tie rules."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli import cli
from bench.errors import UserError
from bench.evaluation.records import record_schema
from bench.leaderboard.collect import Summary, group, read_records
from bench.leaderboard.tables import is_bold, overall, set_forms
from tests.conftest import REPO

COMMITTED = REPO / "leaderboard" / "results"


def _a_record() -> dict:
    path = sorted(COMMITTED.rglob("*.json"))[0]
    return json.loads(path.read_text())


def _required_paths(schema: dict, prefix: tuple = ()) -> list[tuple]:
    """Every required field of the record schema, nested ones included."""
    found = []
    for name in schema.get("required", []):
        found.append((*prefix, name))
        child = schema.get("properties", {}).get(name, {})
        if child.get("type") == "object":
            found += _required_paths(child, (*prefix, name))
    return found


@pytest.mark.parametrize("field", _required_paths(record_schema()), ids=lambda f: "/".join(f))
def test_a_record_missing_any_required_field_is_refused_by_file_and_field(tmp_path, field):
    record = copy.deepcopy(_a_record())
    holder = record
    for part in field[:-1]:
        holder = holder[part]
    del holder[field[-1]]
    broken = tmp_path / "results" / "broken.json"
    broken.parent.mkdir()
    broken.write_text(json.dumps(record))
    with pytest.raises(UserError) as raised:
        read_records([tmp_path / "results"])
    message = str(raised.value)
    assert str(broken) in message and field[-1] in message


def test_a_record_with_a_wrong_type_and_a_non_json_file_are_refused(tmp_path):
    record = _a_record()
    record["results"]["convnet"]["metrics"]["test_accuracy"]["std"] = -0.1
    (tmp_path / "a.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match="results/convnet/metrics/test_accuracy/std"):
        read_records([tmp_path])
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(UserError, match="not a readable JSON result record"):
        read_records([tmp_path])


def test_bold_marks_the_best_and_ties_within_one_std():
    best = Summary(0.80, 0.02, 5)
    assert is_bold(best, best)
    assert is_bold(Summary(0.785, 0.001, 5), best)  # within the best's std
    assert is_bold(Summary(0.70, 0.12, 5), best)  # within its own std
    assert not is_bold(Summary(0.75, 0.01, 5), best)


def _summary(values: list[float]) -> dict:
    mean = sum(values) / len(values)
    return {"mean": mean, "std": (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5, "per_seed": values}


def _record(technique: str, ipc: int | None, accuracies: list[float], seed: int = 0, **tracks: dict) -> dict:
    """A record of ``technique`` at ``ipc`` whose convnet track scored ``accuracies``; ``tracks`` adds
    other tracks' metrics (name -> {metric: per-seed values})."""
    record = copy.deepcopy(_a_record())
    record["profile"] = "quick"
    kind = "reference" if technique in ("random", "full") else "technique"
    digest = f"{hash((technique, ipc, seed)) & (2**256 - 1):064x}"
    record["evaluated_set"].update(technique=technique, ipc=ipc, sha256=digest, tensor_sha256=digest, kind=kind)
    convnet = record["results"]["convnet"]
    convnet.update(seeds=list(range(len(accuracies))), metrics={"test_accuracy": _summary(accuracies)})
    record["results"] = {"convnet": convnet}
    for name, metrics in tracks.items():
        entry = copy.deepcopy(convnet)
        entry.update(protocol_id=f"{name}-v1", metrics={m: _summary(v) for m, v in metrics.items()})
        record["results"][name] = entry
    record["dataset"]["options"] = {}
    return record


def test_overall_table_bolds_the_best_cell_and_shows_missing_cells():
    records = [
        ("a", _record("random", 1, [0.30, 0.32])),
        ("b", _record("dm", 1, [0.50, 0.52])),
        ("c", _record("dc", 1, [0.505, 0.515])),  # a tie with dm: both bold
        ("d", _record("dm", 10, [0.90])),
        ("e", _record("full", None, [0.99])),
    ]
    text = overall(group(records), "convnet")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines()[2:]}
    assert "**0.510**" in rows["dm"] and "**0.510**" in rows["dc"]
    assert "**" not in rows["random (reference)"]
    assert rows["dc"].rstrip(" |").endswith("—")  # dc has no IPC-10 cell
    assert rows["full (reference)"].count("0.990") == 2
    assert list(rows)[:2] == ["full (reference)", "random (reference)"]  # reference rows first


def test_distillation_seeds_pool_and_both_counts_are_shown():
    records = [("a", _record("dm", 1, [0.5, 0.6], seed=0)), ("b", _record("dm", 1, [0.7, 0.8], seed=1))]
    (cell,) = group(records)
    score = cell.score("convnet")
    assert score.sets == 2 and score.n == 4 and score.mean == pytest.approx(0.65)
    assert "**0.650** ± 0.112 (2×2)" in overall([cell], "convnet")


def test_two_seeds_that_gave_the_same_set_count_as_one_set():
    """prototype at IPC 1 is the class mean whatever the seed: its three records are one set, not three."""
    same = [_record("prototype", 1, [0.5, 0.6], seed=s) for s in range(3)]
    for record in same[1:]:
        record["evaluated_set"]["tensor_sha256"] = same[0]["evaluated_set"]["tensor_sha256"]
    (cell,) = group([(str(i), record) for i, record in enumerate(same)])
    score = cell.score("convnet")
    assert (score.sets, score.n) == (1, 2) and score.mean == pytest.approx(0.55)


def test_records_of_one_cell_under_two_protocols_never_pool():
    other = _record("dm", 1, [0.7], seed=1)
    other["results"]["convnet"]["protocol_id"] = "convnet-sgd-v1+chunked"
    (cell,) = group([("a", _record("dm", 1, [0.5], seed=0)), ("b", other)])
    with pytest.raises(UserError, match=r"mix protocols convnet-sgd-v1, convnet-sgd-v1\+chunked"):
        cell.score("convnet")


def test_a_track_with_parts_gets_a_breakdown_and_identical_sets_are_named(tmp_path):
    from bench.leaderboard.build import build_markdown

    parts = {"test_accuracy": [0.5], "test_accuracy/mlp": [0.4], "test_accuracy/resnet": [0.6]}
    herding = _record("herding", 1, [0.3], **{"cross-arch": parts})
    kcenter = _record("kcenter", 1, [0.3], **{"cross-arch": parts})
    kcenter["evaluated_set"]["tensor_sha256"] = herding["evaluated_set"]["tensor_sha256"]
    text = build_markdown(group([("a", herding), ("b", kcenter)]), tmp_path, plots=False)
    assert "### track `cross-arch`" in text and "| technique   | mlp" in text
    assert "herding = kcenter (identical sets)" in text


def test_a_track_no_random_subset_is_scored_on_shows_no_gain_table(tmp_path):
    from bench.leaderboard.build import build_markdown

    own = {"test_accuracy": [0.6, 0.62]}
    records = [("a", _record("random", 1, [0.3])), ("b", _record("datm-soft", 1, [0.4], **{"kd-own-labels": own}))]
    text = build_markdown(group(records), tmp_path, plots=False)
    section = text.split("### track `kd-own-labels`")[1].split("\n### ")[0]
    assert "0.610" in section and "Gain over the random subset" not in section, section
    assert "No random subset is scored on `kd-own-labels`" in section
    main = text.split("### main track `convnet`")[1].split("\n### ")[0]
    assert "Gain over the random subset" in main and "+0.100" in main


def test_regeneration_is_byte_identical_and_subset_results_stay_off_the_main_tables(tmp_path):
    results = tmp_path / "results"
    # one dataset's committed records (every profile and track of it): the whole board draws ~270 pictures twice
    for path in sorted(COMMITTED.rglob("esc10/**/*.json")):
        target = results / path.relative_to(COMMITTED)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    smoke = _record("dm", 1, [0.1])
    smoke["profile"] = "smoke"
    (results / "smoke.json").write_text(json.dumps(smoke))
    outputs = []
    for attempt in range(2):
        out = tmp_path / f"board{attempt}" / "README.md"
        result = CliRunner().invoke(cli, ["leaderboard", "build", "--results", str(results), "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(out)
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    plots = sorted(p.name for p in (outputs[0].parent / "plots").iterdir())
    assert plots and all(
        (outputs[0].parent / "plots" / p).read_bytes() == (outputs[1].parent / "plots" / p).read_bytes() for p in plots
    )
    text = outputs[0].read_text()
    main, _, off = text.partition("## Smoke runs and dataset subsets")
    assert "`smoke`" not in main and "smoke" not in main.split("## Profile")[1]
    assert "dm" in off
    for link in [line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]:
        assert (outputs[0].parent / link).is_file(), f"broken relative link {link}"


def test_csv_and_json_exports(tmp_path):
    csv_out = CliRunner().invoke(cli, ["leaderboard", "build", "--format", "csv", "--out", "-"])
    assert csv_out.exit_code == 0, csv_out.output
    header, *rows = csv_out.output.splitlines()
    assert header.startswith("profile,dataset,technique,kind,ipc,track,protocol,mean,std,sets,n") and rows
    as_json = CliRunner().invoke(cli, ["leaderboard", "build", "--format", "json", "--out", str(tmp_path / "x.json")])
    assert as_json.exit_code == 0
    assert {"technique", "track", "mean", "status"} <= set(json.loads(Path(tmp_path / "x.json").read_text())[0])


def test_tsne_maps_show_each_techniques_items_and_the_board_links_them(tmp_path):
    from tests.conftest import TINY_PARAMS

    params = tmp_path / "params.yaml"
    params.write_text(
        TINY_PARAMS + "grid: {profile: tiny, datasets: [synthetic], techniques: [herding, prototype], references: [],"
        " ipc: [2], tracks: [nearest-mean]}\n"
    )
    base = ["--params", str(params), "--cache-dir", str(tmp_path / "cache"), "-q"]
    runner = CliRunner()
    results = tmp_path / "results"
    ran = runner.invoke(
        cli, [*base, "run", "--no-tracking", "--outputs", str(tmp_path / "outputs"), "--results", str(results)]
    )
    assert ran.exit_code == 0, ran.output
    board = tmp_path / "board"
    drawn = runner.invoke(
        cli,
        [
            *base,
            "leaderboard",
            "tsne",
            "-d",
            "synthetic",
            "--ipc",
            "2",
            "--embedder",
            "mfcc",
            "--results",
            str(results),
            "--out-dir",
            str(board / "tsne"),
        ],
    )
    assert drawn.exit_code == 0, drawn.output
    assert "synthetic: 2 set(s)" in drawn.output
    png = board / "tsne" / "tiny-synthetic-ipc2-mfcc.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    built = runner.invoke(cli, ["leaderboard", "build", "--results", str(results), "--out", str(board / "README.md")])
    assert built.exit_code == 0, built.output
    assert "![tiny-synthetic-ipc2-mfcc](tsne/tiny-synthetic-ipc2-mfcc.png)" in (board / "README.md").read_text()


def test_the_seed_tables_stand_the_seed_numbers_beside_ours_and_name_each_stand_in():
    from bench.leaderboard.seed import seed_section

    records = [("a", _record("dm", 1, [0.5, 0.6])), ("b", _record("dm", 10, [0.8, 0.9]))]
    for _, record in records:
        record["dataset"]["name"] = "fsdd"
    text = "\n".join(seed_section(group(records)))
    assert "reference/seeds/000_c724d4de3a23668c.txt" in text  # every seed number is cited
    one = next(line for line in text.splitlines() if line.startswith("| 1 samples/cls") and "0.40" in line)
    assert "| 0.40 " in one and "0.550 ± 0.050 (1×2) [stand-in fsdd]" in one
    assert "| 0.25 " in one and "| 0.19 " in one  # UrbanSound8K and GTZAN: the seed's, ours missing


def _kd_record(technique: str, ipc: int, hard: list[float], soft: list[float], teacher: float = 0.95) -> dict:
    record = _record(technique, ipc, hard, kd={"test_accuracy": soft})
    record["results"]["kd"].update(main_score="test_accuracy", teacher={"test_accuracy": teacher})
    return record


def test_hard_labels_stand_beside_kd_with_the_teacher_and_each_gain_over_random_under_its_own_labels():
    from bench.leaderboard.labels import hard_vs_kd, label_robust

    cells = group(
        [
            ("a", _kd_record("random", 10, [0.60, 0.62], [0.80, 0.82])),
            ("b", _kd_record("dm", 10, [0.70, 0.72], [0.83, 0.85])),
            ("c", _kd_record("frami", 10, [0.30, 0.32], [0.55, 0.57])),
            ("d", _record("dc", 10, [0.71, 0.73])),  # no kd result: not in the comparison
        ]
    )
    rows = {
        line.split("|")[1].strip(): [v.strip() for v in line.split("|")[2:-1]]
        for line in hard_vs_kd(cells, cells[0].dataset).splitlines()[2:]
    }
    assert list(rows) == ["teacher (full training split)", "random (reference)", "dm", "frami (data-free)"]
    assert rows["teacher (full training split)"][1] == "0.950"
    assert rows["dm"][:4] == ["0.710 ± 0.010 (1×2)", "0.840 ± 0.010 (1×2)", "+0.100", "+0.030"]
    assert rows["frami (data-free)"][2:] == ["-0.300", "-0.250"]
    robust = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in label_robust(cells).splitlines()[2:]}
    assert robust == {"dm": "+30%", "frami (data-free)": "—"}  # frami's hard-label gain is negative


def test_set_forms_state_training_items_and_bytes_beside_a_plain_log_mel_set():
    plain = _record("dm", 10, [0.9])
    factorised = _record("idm", 10, [0.93])
    waves = _record("dm-waveform", 10, [0.9])
    mels, frames = plain["features"]["n_mels"], plain["features"]["frames"]
    classes, samples = 10, 8000
    one_item = mels * frames * 4 + 8
    factorised["evaluated_set"].update(
        decoder={"name": "time-segments", "factor": 4},
        domain="logmel",
        num_items=100,
        budget={"items_per_class": 10, "stored_bytes": 100 * one_item},
    )
    waves["evaluated_set"].update(
        decoder=None,
        domain="waveform",
        num_items=100,
        budget={"items_per_class": 10, "stored_bytes": classes * 10 * (samples * 4 + 8)},
    )
    for record in (plain, factorised, waves):
        record["dataset"]["classes"] = [str(c) for c in range(classes)]
    text = set_forms(group([("a", plain), ("b", factorised), ("c", waves)]))
    rows = {
        line.split("|")[1].strip(): [part.strip() for part in line.split("|")[2:-1]] for line in text.splitlines()[2:]
    }
    assert set(rows) == {"idm", "dm-waveform"}  # a plain log-mel set has nothing to declare
    assert rows["idm"][2:] == ["logmel, time-segments x4", "40", f"{100 * one_item:,}", "1.00x"]
    assert rows["dm-waveform"][2:5] == ["waveform", "10", f"{100 * (samples * 4 + 8):,}"]
    assert rows["dm-waveform"][5] == f"{(samples * 4 + 8) / one_item:.2f}x"


def test_a_waveform_set_is_heard_beside_the_preferred_one():
    from bench.leaderboard.build import sample_cells

    plain, waves = _record("dm", 10, [0.9]), _record("dm-waveform", 10, [0.9])
    waves["evaluated_set"]["domain"] = "waveform"
    dataset = plain["dataset"]["name"]
    chosen = sample_cells(group([("a", plain), ("b", waves)]), dataset)
    assert set(chosen) == {dataset, f"{dataset}-dm-waveform"} and chosen[dataset].technique == "dm"


def test_two_names_for_one_set_are_noted_once_however_many_seeds_share_them():
    from bench.leaderboard.tables import identical_sets

    records = []
    for seed in range(3):
        herding, kcenter = _record("herding", 1, [0.3], seed=seed), _record("kcenter", 1, [0.3], seed=seed)
        kcenter["evaluated_set"]["tensor_sha256"] = herding["evaluated_set"]["tensor_sha256"]
        records += [(f"h{seed}", herding), (f"k{seed}", kcenter)]
    notes = identical_sets(group(records))
    assert len(notes) == 1 and notes[0].endswith("herding = kcenter (identical sets, 3 seeds)"), notes


def test_pictures_are_redrawn_only_when_what_they_show_changes(tmp_path):
    """A rebuild leaves unchanged PNGs untouched (their fingerprint matches), redraws the ones whose cells
    changed, byte-identical to a drawing from scratch, and deletes the ones whose cells are gone."""
    results, board = tmp_path / "results", tmp_path / "board" / "README.md"
    results.mkdir()
    confusion = [[3, 1] + [0] * 8] + [[0] * i + [4] + [0] * (9 - i) for i in range(1, 10)]
    for ipc, accuracies in ((1, [0.4, 0.5]), (10, [0.8, 0.9])):
        record = _record("dm", ipc, accuracies)
        record["results"]["convnet"]["confusion"] = confusion
        (results / f"dm{ipc}.json").write_text(json.dumps(record))

    def build(out: Path) -> dict[str, tuple[int, bytes]]:
        result = CliRunner().invoke(cli, ["leaderboard", "build", "--results", str(results), "--out", str(out)])
        assert result.exit_code == 0, result.output
        pictures = out.parent.rglob("*.png")
        return {str(p.relative_to(out.parent)): (p.stat().st_mtime_ns, p.read_bytes()) for p in pictures}

    first = build(board)
    ipc10 = next(name for name in first if name.startswith("confusion") and name.endswith("dm-ipc10.png"))
    ipc1 = ipc10.replace("ipc10", "ipc1")
    assert ipc1 in first and any(name.startswith("plots") for name in first)
    assert build(board) == first  # nothing redrawn: same bytes, same modification times

    changed = json.loads((results / "dm10.json").read_text())
    changed["results"]["convnet"]["confusion"][0] = [2, 2] + [0] * 8
    (results / "dm10.json").write_text(json.dumps(changed))
    second = build(board)
    assert second[ipc1] == first[ipc1]
    assert second[ipc10][0] != first[ipc10][0] and second[ipc10][1] != first[ipc10][1]
    assert second[ipc10][1] == build(tmp_path / "fresh" / "README.md")[ipc10][1]

    (results / "dm10.json").unlink()  # a cell gone from the records: its picture goes from the board
    third = build(board)
    assert ipc10 not in third and third[ipc1] == first[ipc1]
