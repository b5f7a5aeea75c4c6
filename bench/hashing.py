"""Content hashes: the keys of caches and the provenance of every result.

Reading every audio file to hash it is most of a warm feature load, so while a :func:`digest_index` is open
(every ``distrack`` command and every sweep cell opens one in its cache folder: :data:`DIGEST_INDEX`),
:func:`sha256_file` answers from a stat index: a file whose signature (size, mtime, ctime, inode) is what it
was when it was hashed is not read again. ctime moves on every write and cannot be set back by a user, so a
changed byte is caught even when the writer restores mtime."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.atomic import write_text_atomic

_INDEX_VERSION = 1
DIGEST_INDEX = "file-digests.json"  # its name in a cache folder


def _read_sha256(path: str | os.PathLike[str], chunk: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class DigestIndex:
    """sha256 of files by stat signature, kept in one JSON file (an unreadable one is started afresh)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, list[Any]] = {}
        self.hits = self.misses = 0
        self._changed = False
        self._lock = threading.Lock()
        with contextlib.suppress(OSError, ValueError):
            stored = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(stored, dict) and stored.get("version") == _INDEX_VERSION:
                self.entries = dict(stored.get("files") or {})

    @staticmethod
    def signature(path: str) -> list[int]:
        stat = os.stat(path)
        return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]

    def digest(self, path: str, chunk: int = 1 << 20) -> str:
        name = os.path.abspath(path)  # no syscalls: the lookup must cost less than hashing a small file
        signature = self.signature(name)
        entry = self.entries.get(name)
        if entry is not None and entry[:-1] == signature:
            with self._lock:
                self.hits += 1
            return str(entry[-1])
        value = _read_sha256(path, chunk)
        unchanged = self.signature(name) == signature  # not written to while it was read
        with self._lock:
            self.misses += 1
            if unchanged:
                self.entries[name] = [*signature, value]
                self._changed = True
        return value

    def save(self) -> None:
        if self._changed:
            payload = {"version": _INDEX_VERSION, "files": self.entries}
            with contextlib.suppress(OSError):  # a read-only cache only costs the next load its hashing
                write_text_atomic(self.path, json.dumps(payload, sort_keys=True, separators=(",", ":")))
            self._changed = False


_ACTIVE: list[DigestIndex] = []


@contextlib.contextmanager
def digest_index(path: Path) -> Iterator[DigestIndex]:
    """Inside this block :func:`sha256_file` uses (and extends) the stat index at ``path``; saved on exit.
    Re-entrant: an inner block on the same file shares the outer one's index."""
    if _ACTIVE and _ACTIVE[-1].path == path:
        yield _ACTIVE[-1]
        _ACTIVE[-1].save()
        return
    index = DigestIndex(path)
    _ACTIVE.append(index)
    try:
        yield index
    finally:
        _ACTIVE.remove(index)
        index.save()


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    if _ACTIVE:
        return _ACTIVE[-1].digest(os.fspath(path), chunk)
    return _read_sha256(path, chunk)


def sha256_json(payload: Any) -> str:
    """Stable hash of a JSON-serialisable value (keys sorted)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
