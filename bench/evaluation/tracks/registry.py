"""The one registry of evaluation tracks: built-ins plus the ``distrackted.tracks`` entry-point group."""

from __future__ import annotations

from bench.evaluation.tracks.base import Track
from bench.registry import Registry

TRACKS: Registry[type[Track]] = Registry("track", "distrackted.tracks", "bench.evaluation.tracks.builtin", Track)
register_track = TRACKS.register
get_track = TRACKS.get


def track_names() -> list[str]:
    return TRACKS.names()
