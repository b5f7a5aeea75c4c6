"""One registry class for every pluggable concept (datasets, techniques, tracks, models, references).

Built-ins register themselves when their package is imported; third-party packages add entries through an
entry-point group (``distrackted.<concept>s``), so a newcomer adds a technique, track, model or dataset with
one file and no edit of this code."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module, metadata
from typing import Generic, TypeVar

from bench.errors import UserError

T = TypeVar("T", bound=type)


class Registry(Generic[T]):
    """Name -> class. ``builtins`` is the module whose import registers the built-in entries; ``key`` reads
    an entry's name from its class (``cls.name`` unless told otherwise)."""

    def __init__(
        self,
        what: str,
        group: str,
        builtins: str,
        base: type,
        key: Callable[[type], str] = lambda cls: cls.name,
    ) -> None:
        self.what = what
        self.group = group
        self.builtins = builtins
        self.base = base
        self.key = key
        self._entries: dict[str, T] = {}
        self._plugins: set[str] = set()
        self._loaded = False
        _ALL.append(self)

    def register(self, cls: T) -> T:
        """Class decorator; a second, different class under one name is an error."""
        name = self.key(cls)
        existing = self._entries.get(name)
        if existing is not None and existing is not cls:
            raise UserError(f"{self.what} {name!r} is registered twice ({existing.__module__} and {cls.__module__})")
        self._entries[name] = cls
        return cls

    def _load(self) -> None:
        import_module(self.builtins)
        if self._loaded:
            return
        self._loaded = True
        for entry in metadata.entry_points(group=self.group):
            try:
                cls = entry.load()
            except Exception as exc:  # a broken plug-in must not take the suite down silently
                raise UserError(f"{self.what} plug-in {entry.name!r} ({entry.value}) failed to load: {exc}") from exc
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise UserError(
                    f"{self.what} plug-in {entry.name!r} ({entry.value}) is not a {self.base.__name__} subclass"
                )
            self.register(cls)  # type: ignore[arg-type]
            self._plugins.add(self.key(cls))

    def forget_plugins(self) -> None:
        for name in self._plugins:
            self._entries.pop(name, None)
        self._plugins.clear()
        self._loaded = False

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise UserError(f"unknown {self.what} {name!r}; known: {', '.join(sorted(self._entries))}") from None

    def __iter__(self) -> Iterator[T]:
        return iter([self.get(name) for name in self.names()])

    def is_plugin(self, name: str) -> bool:
        self._load()
        return name in self._plugins


_ALL: list[Registry] = []


def reload_plugins() -> None:
    """Forget every registry's plug-ins; each scans its entry points again on next use (after installing or
    removing a plug-in in a running process, e.g. in tests)."""
    for registry in _ALL:
        registry.forget_plugins()
