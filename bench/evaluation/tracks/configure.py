"""Tracks ready to run for a session: their ``tracks:`` section of params.yaml resolved and typed, plus the
context (the profile's network and recipe, device, speed-ups)."""

from __future__ import annotations

from bench.evaluation.acceleration import NONE, Acceleration
from bench.evaluation.tracks.base import Track, TrackContext
from bench.evaluation.tracks.registry import get_track
from bench.overrides import component_overrides
from bench.params import ProtocolParams
from bench.session import Session

DEFAULT_TRACKS = ("convnet", "nearest-mean")


def build_track(
    session: Session,
    name: str,
    *,
    dataset: str | None = None,
    pairs: tuple[str, ...] = (),
    protocol: ProtocolParams | None = None,
    vectorise: str = "auto",
    acceleration: Acceleration = NONE,
) -> Track:
    cls = get_track(name)
    overrides = component_overrides(session.params, "tracks", name, session.profile.name, dataset, pairs)
    params = cls.configure(session.profile.budgets, overrides)
    context = TrackContext(
        model=session.profile.model,
        protocol=protocol or session.profile.protocol,
        device=session.device,
        progress=session.progress,
        vectorise=vectorise,
        acceleration=acceleration,
        cache_dir=session.cache_dir,
    )
    track = cls(params, context)
    bind = getattr(track, "bind_session", None)
    if bind is not None:  # a track that reads the dataset's audio or weights from the models root
        bind(session)
    return track
