"""The click decorator that hands each command the invocation's :class:`~bench.session.Session`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bench.session import CACHE_ENV, Session, default_cache_dir

pass_session = click.make_pass_decorator(Session)

skip_bad_option = click.option(
    "--skip-bad", is_flag=True, help="Skip unreadable audio files (counted in the record and reported)."
)


def _folder_option(flag: str, default: str, help_text: str) -> Callable[[Any], Any]:
    return click.option(
        flag, type=click.Path(path_type=Path, file_okay=False), default=Path(default), show_default=True, help=help_text
    )


def results_option(help_text: str) -> Callable[[Any], Any]:
    """``--results``: the folder of result records, ``leaderboard/results`` unless told (the board's own)."""
    return _folder_option("--results", "leaderboard/results", help_text)


def outputs_option(help_text: str) -> Callable[[Any], Any]:
    """``--outputs``: the sweep's folder of distilled sets and checkpoints, ``outputs`` unless told."""
    return _folder_option("--outputs", "outputs", help_text)


__all__ = [
    "CACHE_ENV",
    "Session",
    "default_cache_dir",
    "outputs_option",
    "pass_session",
    "results_option",
    "skip_bad_option",
]
