"""The one registry of techniques. Third-party packages add theirs through the entry-point group
``distrackted.techniques`` (``name = "package.module:TechniqueClass"``); no edit of this code needed."""

from __future__ import annotations

from bench.registry import Registry, reload_plugins
from bench.techniques.base import Technique

TECHNIQUES: Registry[type[Technique]] = Registry(
    "technique", "distrackted.techniques", "bench.techniques.builtin", Technique
)
register_technique = TECHNIQUES.register
get_technique = TECHNIQUES.get

__all__ = ["TECHNIQUES", "get_technique", "register_technique", "reload_plugins", "technique_names"]


def technique_names() -> list[str]:
    return TECHNIQUES.names()
