"""Evaluation as a family of tracks: one registry, built-ins plus plug-ins (``distrackted.tracks``)."""

from bench.evaluation.tracks.base import Track, TrackContext, TrackResult
from bench.evaluation.tracks.registry import TRACKS, get_track, register_track, track_names

__all__ = ["TRACKS", "Track", "TrackContext", "TrackResult", "get_track", "register_track", "track_names"]
