"""Where a result came from: code version, libraries, machine."""

from __future__ import annotations

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
