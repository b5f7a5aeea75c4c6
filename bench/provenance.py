"""Where a result came from: code version, libraries, machine."""

from __future__ import annotations

import functools
import hashlib
import platform
import subprocess
from pathlib import Path

import torch
import torchaudio

import bench


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=folder, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def git_commit(package: Path | None = None, cwd: Path | None = None) -> str | None:
    """The commit of the code that runs, suffixed ``-dirty`` when tracked files have uncommitted changes.

    That is HEAD of the checkout whose ``bench/`` folder is ``package`` (default: the imported package), or
    else of the working directory's checkout if its ``bench/`` holds the same code (an installed copy, e.g.
    the Docker image's, run in a mounted clone of the same commit). Never a HEAD whose code differs: a sweep
    started from another folder or repository must not be credited to it. ``None`` when neither applies."""
    package = (package or Path(bench.__file__).parent).resolve()
    for start in (package, (cwd or Path.cwd()).resolve()):
        try:
            checkout = Path(_git(start, "rev-parse", "--show-toplevel")).resolve() / "bench"
            if checkout != package and (not checkout.is_dir() or folder_digest(checkout) != folder_digest(package)):
                continue
            commit = _git(start, "rev-parse", "HEAD")
            dirty = _git(start, "status", "--porcelain", "--untracked-files=no")
        except (OSError, subprocess.SubprocessError):
            continue
        return f"{commit}-dirty" if dirty else commit
    return None


def environment() -> dict[str, str | None]:
    return {
        "suite_version": bench.__version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchaudio": torchaudio.__version__,
        "platform": platform.platform(),
    }


def folder_digest(root: Path) -> str:
    """sha256 over a package folder's source (.py and .json files, by relative path)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in {".py", ".json"} and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def code_digest() -> str:
    """The running package's :func:`folder_digest`: the code part of every content key."""
    return folder_digest(Path(bench.__file__).parent)
