"""Progress bars on stderr (click's), silent when disabled so tests and logs stay clean."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

import click

T = TypeVar("T")


@contextlib.contextmanager
def progress_bar(items: Iterable[T], label: str, enabled: bool, length: int | None = None) -> Iterator[Iterable[T]]:
    if not enabled:
        yield items
        return
    with click.progressbar(items, label=label, length=length, file=sys.stderr, show_pos=True) as bar:
        yield bar
