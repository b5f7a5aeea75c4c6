"""The one registry of techniques. Third-party packages add theirs through the entry-point group
``distrackted.techniques`` (``name = "package.module:TechniqueClass"``); no edit of this code needed."""

from __future__ import annotations

from importlib import metadata

from bench.errors import UserError
from bench.techniques.base import Technique

ENTRY_POINT_GROUP = "distrackted.techniques"
_REGISTRY: dict[str, type[Technique]] = {}
_PLUGIN_NAMES: set[str] = set()
_plugins_loaded = False


def register_technique(cls: type[Technique]) -> type[Technique]:
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise UserError(f"technique {cls.name!r} is registered twice ({existing.__module__} and {cls.__module__})")
    _REGISTRY[cls.name] = cls
    return cls


def _load() -> None:
    global _plugins_loaded
    import bench.techniques.builtin  # noqa: F401  (registers the built-ins)

    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = entry.load()
        except Exception as exc:  # a broken plug-in must not take the suite down
            raise UserError(f"technique plug-in {entry.name!r} ({entry.value}) failed to load: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, Technique)):
            raise UserError(f"technique plug-in {entry.name!r} ({entry.value}) is not a Technique subclass")
        register_technique(cls)
        _PLUGIN_NAMES.add(cls.name)


def reload_plugins() -> None:
    """Forget the plug-ins and scan the entry points again (after installing or removing a plug-in in a
    running process, e.g. in tests)."""
    global _plugins_loaded
    for name in _PLUGIN_NAMES:
        _REGISTRY.pop(name, None)
    _PLUGIN_NAMES.clear()
    _plugins_loaded = False
    _load()


def technique_names() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def get_technique(name: str) -> type[Technique]:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown technique {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None
