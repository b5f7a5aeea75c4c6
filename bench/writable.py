"""Checking before the work that the work can be kept: an output path that cannot be written (a folder that
is not writable, a path under a file, a name too long for the filesystem) is refused with one line up front,
not after minutes of computing; and a result whose final write still fails is kept somewhere and said where."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.errors import UserError

RESCUE_FOLDER = "distrack-rescue"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def ensure_folder(folder: Path, option: str) -> None:
    """Create ``folder`` if needed and prove a file can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".distrack-probe-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"{option} {folder}: cannot write there ({_reason(exc)})") from None


def ensure_writable(target: Path, option: str) -> None:
    """``target`` (a file to be written later, atomically) can be created: its folder is writable and a name
    like the atomic writer's temporary one (``.<name>.<random>.tmp``, longer than the target's) is legal."""
    try:
        if target.is_dir():
            raise UserError(f"{option} {target}: is a folder; give a file name")
    except OSError as exc:  # a name too long even to look up
        raise UserError(f"{option} {target}: cannot create this file ({_reason(exc)})") from None
    ensure_folder(target.parent, option)
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise UserError(f"{option} {target}: cannot create this file ({_reason(exc)})") from None
    os.close(handle)
    os.unlink(probe)


def write_or_rescue(target: Path, write: Callable[[Path], None], what: str) -> None:
    """``write(target)``; if that fails after the work is done, ``write`` to a rescue folder instead and
    raise one line naming both places, so nothing computed is lost."""
    try:
        write(target)
    except OSError as exc:
        rescue = Path(tempfile.gettempdir()) / RESCUE_FOLDER / target.name
        rescue.parent.mkdir(parents=True, exist_ok=True)
        write(rescue)
        raise UserError(f"{target}: could not write the {what} ({_reason(exc)}); it was saved to {rescue}") from None
