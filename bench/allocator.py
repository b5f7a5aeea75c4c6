"""The C allocator told to keep freed tensor memory for the next step instead of handing it back to the OS.

A training step frees and reallocates the same large activations every batch. glibc's malloc serves blocks
above its mmap threshold (at most 32 MB) with fresh ``mmap`` calls and returns them with ``munmap``, and trims
the heap's top, so every step touches new pages and pays a page fault per 4 KB: reusing the blocks instead
made the protocol's evaluation epoch 1.6x faster at IPC 10 and 2.4x at IPC 50 (``benchmarks.profile`` had
shown ``fill_`` running at ~2 GB/s). With mmap and trimming off, the freed blocks are reused as they are.
The arithmetic is untouched, so every number stays bit for bit (``tests/test_allocator.py``); the process
keeps its peak heap until it exits.

Linux with glibc only (elsewhere a no-op); ``DISTRACK_MALLOC=system`` leaves the allocator as it is. Set for
the process by the ``distrack`` command and by every worker it spawns, and passed on to child processes
through glibc's own environment variables. A peak-memory reading starts after :func:`release_freed_memory`,
so it counts what is in use, not what an earlier cell left free."""

from __future__ import annotations

import ctypes
import functools
import os
import platform

from bench.errors import UserError

MALLOC_ENV = "DISTRACK_MALLOC"
CHOICES = ("reuse", "system")
# mallopt parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_NEVER_TRIM = 2**31 - 1  # mallopt takes an int
# What glibc reads at the start of a child process (spawned workers, submitit jobs) to the same effect.
CHILD_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(_NEVER_TRIM)}


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """This process's C library when it is glibc (looked up once: every peak-memory reading asks)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def choice() -> str:
    value = os.environ.get(MALLOC_ENV, "reuse")
    if value not in CHOICES:
        raise UserError(f"{MALLOC_ENV}: expected one of {', '.join(CHOICES)}, got {value!r}")
    return value


def reuse_freed_memory() -> bool:
    """Turn off glibc's mmap for large blocks and its heap trimming, for this process and its children.
    True when the allocator was changed; False on other C libraries or under ``DISTRACK_MALLOC=system``."""
    if choice() == "system":
        return False
    libc = _glibc()
    if libc is None:
        return False
    changed = libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM) == 1
    if changed:
        for name, value in CHILD_ENV.items():
            os.environ.setdefault(name, value)
    return changed


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the OS now (``malloc_trim``), so a peak measured next starts from
    what is in use, not from what an earlier, larger job left free for reuse."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
