"""Records name the commit of the code that ran, not of the folder a sweep was started from."""

import subprocess
from pathlib import Path

from bench.provenance import git_commit


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True).stdout.strip()


def _checkout(root: Path) -> str:
    (root / "bench").mkdir(parents=True)
    (root / "bench" / "__init__.py").write_text("")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "code")
    return _git(root, "rev-parse", "HEAD")


def test_the_commit_is_the_packages_checkout_and_marks_uncommitted_changes(tmp_path):
    commit = _checkout(tmp_path / "suite")
    assert git_commit(tmp_path / "suite" / "bench", cwd=tmp_path) == commit
    (tmp_path / "suite" / "bench" / "__init__.py").write_text("changed = True\n")
    assert git_commit(tmp_path / "suite" / "bench") == f"{commit}-dirty"


def test_the_records_and_lock_a_sweep_writes_do_not_make_its_code_dirty(tmp_path):
    suite = tmp_path / "suite"
    (suite / "leaderboard" / "results").mkdir(parents=True)
    (suite / "leaderboard" / "results" / "cell.json").write_text("{}")
    (suite / "dvc.lock").write_text("schema: '2.0'\n")
    (suite / "params.yaml").write_text("grid: {}\n")
    commit = _checkout(suite)
    (suite / "leaderboard" / "results" / "cell.json").write_text('{"written": "by the sweep"}')
    (suite / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    assert git_commit(suite / "bench", cwd=suite / "leaderboard") == commit
    (suite / "params.yaml").write_text("grid: {ipc: [1]}\n")  # the parameters are part of what ran
    assert git_commit(suite / "bench") == f"{commit}-dirty"


def test_an_installed_copy_takes_the_working_checkouts_commit_only_when_the_code_is_the_same(tmp_path):
    commit = _checkout(tmp_path / "suite")
    # e.g. the Docker image's installed package, run in a mounted clone; the venv sits inside the checkout
    installed = tmp_path / "suite" / ".venv" / "site-packages" / "bench"
    installed.mkdir(parents=True)
    (installed / "__init__.py").write_text("")
    assert git_commit(installed, cwd=tmp_path / "suite") == commit
    (installed / "__init__.py").write_text("other = True\n")
    assert git_commit(installed, cwd=tmp_path / "suite") is None
    assert git_commit(installed, cwd=tmp_path) is None  # not a checkout at all


def _digest_package(root: Path, files: dict[str, str]) -> str:
    import sys

    from bench import provenance

    for name, text in files.items():
        (root / "keypkg" / name).write_text(text)
    provenance._module_summary.cache_clear()
    provenance._top_level.cache_clear()
    sys.path.insert(0, str(root))
    try:
        return provenance.source_digest("keypkg.technique")
    finally:
        sys.path.remove(str(root))
        provenance._top_level.cache_clear()
        provenance._module_summary.cache_clear()


TECHNIQUE = '"""A technique."""\nfrom keypkg.maths import step\n\n\ndef run(x):\n    return step(x)\n'
MATHS = '"""Maths it uses."""\n\n\ndef step(x):\n    # one step\n    return x + 1\n'
BOARD = '"""The leaderboard: no result depends on it."""\n\n\ndef render():\n    return "table"\n'
REGISTRY = '"""Names to classes."""\nfrom keypkg import technique, board  # noqa\n'


def test_a_content_key_changes_when_and_only_when_the_code_that_computes_the_result_does(tmp_path):
    (tmp_path / "keypkg").mkdir()
    base = {"__init__.py": "", "technique.py": TECHNIQUE, "maths.py": MATHS, "board.py": BOARD}
    base["registry.py"] = REGISTRY
    first = _digest_package(tmp_path, base)
    unchanged = {
        "a comment": {**base, "maths.py": MATHS.replace("# one step", "# one step, explained at length")},
        "a docstring": {**base, "maths.py": MATHS.replace("Maths it uses.", "The maths, documented better.")},
        "an unrelated module": {**base, "board.py": BOARD.replace('"table"', '"a better table"')},
        "a registry": {**base, "registry.py": REGISTRY + "EXTRA = 1\n"},
        "formatting": {**base, "maths.py": MATHS.replace("return x + 1", "return (x  +  1)")},
    }
    for what, files in unchanged.items():
        assert _digest_package(tmp_path, files) == first, f"editing {what} changed the key"
    changed = {
        "the technique": {**base, "technique.py": TECHNIQUE.replace("step(x)", "step(x) * 2")},
        "code it imports": {**base, "maths.py": MATHS.replace("x + 1", "x + 2")},
    }
    for what, files in changed.items():
        assert _digest_package(tmp_path, files) != first, f"editing {what} left the key unchanged"


PROGRESS = '"""Progress bars."""\n\n\ndef bar(items):\n    return items\n'


def test_result_neutral_modules_leave_the_key_under_definition_2_and_not_under_definition_1(tmp_path):
    """A progress bar (like error types, atomic writes, hashing, device naming) cannot change a number: from
    definition 2 on, editing it keeps every key; definition 1, kept for migrations, digested it."""
    from bench.provenance import key_definition

    (tmp_path / "keypkg").mkdir()
    uses_progress = TECHNIQUE.replace(
        "from keypkg.maths import step", "from keypkg.maths import step\nfrom keypkg.progress import bar"
    )
    base = {"__init__.py": "", "technique.py": uses_progress, "maths.py": MATHS, "progress.py": PROGRESS}
    edited = {**base, "progress.py": PROGRESS.replace("return items", "return list(items)")}
    assert _digest_package(tmp_path, edited) == _digest_package(tmp_path, base)
    with key_definition(1):
        assert _digest_package(tmp_path, edited) != _digest_package(tmp_path, base)
    assert _digest_package(tmp_path, {**base, "maths.py": MATHS.replace("x + 1", "x + 3")}) != _digest_package(
        tmp_path, base
    )


# source_digest("bench.models.convnet") before the pooling rewrite (at 8e06196), which keyed every record of the board.
CONVNET_DIGEST_BEFORE_POOLING = "07bf21f84c341e3cf2d40c0ef8f72b92d7e4c9e26cba1dc117ce0f20b73af42c"


def test_a_proven_rewrite_is_digested_as_it_was_under_older_definitions_only_while_unedited(monkeypatch):
    """Definition 4's rewrites: under 3 the ConvNet's code digests exactly as before its pool was rewritten (so
    records keyed then can be proven and moved); under 4 as it is; and once the module is edited again (its digest
    no longer the table's), as it is under every definition."""
    from bench import provenance

    now = provenance.source_digest("bench.models.convnet")
    with provenance.key_definition(3):
        assert provenance.source_digest("bench.models.convnet") == CONVNET_DIGEST_BEFORE_POOLING
    assert now != CONVNET_DIGEST_BEFORE_POOLING
    for name, (definition, before, _) in provenance._PROVEN_REWRITES.items():
        monkeypatch.setitem(provenance._PROVEN_REWRITES, name, (definition, before, "a later edit"))
    with provenance.key_definition(3):
        assert provenance.source_digest("bench.models.convnet") == now


# source_digest("bench.techniques.mtt") before the expert cache covered the thread count (at fc58438).
MTT_DIGEST_BEFORE_EXPERT_THREADS = "1d4c988cc7948ed653a482ed9cefa4b3754afcdd76df0b6057593f8428cdd9a7"


def test_each_rewrite_is_undone_only_under_the_definitions_before_it():
    from bench import provenance

    with provenance.key_definition(4):
        assert provenance.source_digest("bench.techniques.mtt") == MTT_DIGEST_BEFORE_EXPERT_THREADS
        assert provenance.source_digest("bench.models.convnet") != CONVNET_DIGEST_BEFORE_POOLING
    assert provenance.source_digest("bench.techniques.mtt") != MTT_DIGEST_BEFORE_EXPERT_THREADS


# source_digest("bench.evaluation.tracks.convnet") before `--vectorise auto` weighed a step's work (at 4c9eb20).
CONVNET_TRACK_DIGEST_BEFORE_CROSSOVER = "f4b4a75bc17e069a07b45ca03dceece770ef9e0dccb51256ca75df468202a66f"


def test_definition_6_undoes_the_vectorise_rule_for_records_keyed_before_it():
    """Every record was keyed under 5 with the old rule; under 5 the track's code digests as it did then (so
    `distrack records rekey` can prove them), under 6 as it is."""
    from bench import provenance

    with provenance.key_definition(5):
        assert provenance.source_digest("bench.evaluation.tracks.convnet") == CONVNET_TRACK_DIGEST_BEFORE_CROSSOVER
    assert provenance.source_digest("bench.evaluation.tracks.convnet") != CONVNET_TRACK_DIGEST_BEFORE_CROSSOVER
