"""The click decorator that hands each command the invocation's :class:`~bench.session.Session`."""

from __future__ import annotations

import click

from bench.session import CACHE_ENV, Session, default_cache_dir

pass_session = click.make_pass_decorator(Session)

skip_bad_option = click.option(
    "--skip-bad", is_flag=True, help="Skip unreadable audio files (counted in the record and reported)."
)

__all__ = ["CACHE_ENV", "Session", "default_cache_dir", "pass_session", "skip_bad_option"]
