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


def git_commit(cwd: Path | None = None) -> str | None:
    """The checkout's HEAD, suffixed ``-dirty`` when tracked files have uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def environment() -> dict[str, str | None]:
    return {
        "suite_version": bench.__version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchaudio": torchaudio.__version__,
        "platform": platform.platform(),
    }


@functools.cache
def code_digest() -> str:
    """sha256 over the package's source (.py and .json files): the code part of every content key."""
    root = Path(bench.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in {".py", ".json"} and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
