"""Progress on stderr: click's bar on a terminal; when stderr is a file or a pipe (a log), one line every
``DISTRACK_PROGRESS_SECONDS`` (default 30) seconds instead, so a long job written to a log is never silent
for long. Nothing at all when disabled (``-q``), so tests and DVC logs stay clean."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

import click

T = TypeVar("T")
INTERVAL_ENV = "DISTRACK_PROGRESS_SECONDS"


def _logged(items: Iterable[T], label: str, length: int | None, every: float) -> Iterator[T]:
    total = length if length is not None else (len(items) if hasattr(items, "__len__") else None)  # type: ignore[arg-type]
    start = last = time.monotonic()
    for done, item in enumerate(items, start=1):
        yield item
        now = time.monotonic()
        if now - last >= every:
            last = now
            of = f"/{total}" if total is not None else ""
            print(f"{label}: {done}{of} after {now - start:.0f} s", file=sys.stderr, flush=True)


@contextlib.contextmanager
def progress_bar(items: Iterable[T], label: str, enabled: bool, length: int | None = None) -> Iterator[Iterable[T]]:
    if not enabled:
        yield items
        return
    if not sys.stderr.isatty():
        yield _logged(items, label, length, float(os.environ.get(INTERVAL_ENV, "30")))
        return
    with click.progressbar(items, label=label, length=length, file=sys.stderr, show_pos=True) as bar:
        yield bar
