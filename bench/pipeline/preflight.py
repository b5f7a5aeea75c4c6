"""Checks a sweep makes before it computes anything: the inputs a track reads besides the set, whose absence
would otherwise surface at that track's evaluation, after hours of distillation and of the other tracks.

The checks live here, keyed by track name, rather than as methods of the tracks: a track's module is part of
every result's content key, and a check changes nothing a track computes."""

from __future__ import annotations

from collections.abc import Callable

from bench.errors import UserError
from bench.evaluation.tracks.base import Track
from bench.session import Session


def _shift_background_audio(track: Track, session: Session) -> None:
    """The shift track mixes in another dataset's sounds (tracks.shift.background), read from the data root;
    `dvc repro`'s data root holds only the grid's datasets."""
    name = dict(track.params.background).get("dataset")
    if "background" not in track.params.corruptions or not name:
        return  # nothing to mix in, or no dataset named: the track refuses the latter in its own words
    try:
        session.dataset(str(name)).index()
    except UserError as exc:
        hint = f"`dvc repro` reads only the grid's datasets, so list {name} in grid.datasets"
        raise UserError(f"tracks.shift.background: {exc}; {hint}") from None


CHECKS: dict[str, Callable[[Track, Session], None]] = {"shift": _shift_background_audio}


def check_track_inputs(track: Track, session: Session) -> None:
    """Raise a UserError naming what ``track`` would miss; most tracks read nothing besides the set."""
    check = CHECKS.get(track.name)
    if check is not None:
        check(track, session)
