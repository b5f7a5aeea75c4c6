"""Device choice and peak-memory measurement."""

from __future__ import annotations

import contextlib
import resource
import sys
from collections.abc import Iterator
from pathlib import Path

import torch

from bench.allocator import release_freed_memory
from bench.errors import UserError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine (use cpu or auto)")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"--device {name}: {exc}") from exc
    if device.type == "cuda":
        full_fp32_on_cuda()
    return device


def full_fp32_on_cuda() -> None:
    """The protocol computes in fp32, but cuDNN convolutions default to TF32 (a 10-bit mantissa) on Ampere and
    later GPUs. Measured on an H200: with it, an idm set differed from the CPU's by up to 4e-3 after 3
    iterations, and an mtt set by up to 0.47 (its experts train in TF32). With it off, a GPU differs from a CPU
    only by the order of float sums (tests/test_cuda.py)."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'' if threads == 1 else 's'})"


@contextlib.contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """torch's CPU thread count set to ``count`` (None: left as it is) inside the block and restored after it:
    a CPU sums in another order with another count, so reproducing a result, or a key that covers a teacher,
    needs the count it was made with."""
    before = torch.get_num_threads()
    torch.set_num_threads(count or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak. On a CPU under Linux, writing 5 to /proc/self/clear_refs resets the process's
    resident high-water mark, so each cell of a sweep reports its own peak instead of the largest of every
    cell before it. Elsewhere (macOS, a /proc that refuses the write) the CPU peak stays the process's."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    release_freed_memory()  # the heap keeps freed blocks for reuse (bench/allocator.py): give them back first
    with contextlib.suppress(OSError):
        _CLEAR_REFS.write_text("5")


def peak_memory_mb(device: torch.device) -> float:
    """Peak CUDA allocation on a GPU; on a CPU the resident high-water mark since :func:`reset_peak_memory`
    (Linux: VmHWM), else since the process started."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
