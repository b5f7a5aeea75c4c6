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
