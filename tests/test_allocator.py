"""The allocator setting (bench/allocator.py): large blocks stay in the heap, and no number moves.

Each case runs in a fresh interpreter: malloc's settings are per process and cannot be undone."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.allocator import CHILD_ENV, MALLOC_ENV

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc only"
)
ROOT = Path(__file__).resolve().parents[1]

# Bytes glibc mmaps for a 64 MB tensor (mallinfo2's hblkhd while it lives, less before), after the setup given.
MAPPED = """
import ctypes, json, torch
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
{setup}
before = libc.mallinfo2().hblkhd
big = torch.ones(16 * 2**20)
print("RESULT", json.dumps(libc.mallinfo2().hblkhd - before))
"""

# The protocol's training of a fresh network on 100 items of 1x32x32 (layer-one activations of 26 MB, above
# glibc's largest mmap threshold), its final weights as bytes.
TRAINED = """
import hashlib, json, torch
from bench.allocator import reuse_freed_memory
from bench.evaluation.protocol import train_network
from bench.models import ModelSpec
from bench.params import ProtocolParams
print("RESULT", json.dumps({{"changed": {setup}}}))
generator = torch.Generator().manual_seed(3)
x = torch.randn(100, 1, 32, 32, generator=generator)
y = torch.arange(100) % 10
protocol = ProtocolParams(epochs=3, seeds=(0,))
model = ModelSpec.parse({{"architecture": "convnet", "width": 64}}, "model")
net, _ = train_network(x, y, 10, model, protocol, 0, torch.device("cpu"))
digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in net.state_dict().values()))
print("RESULT", json.dumps(digest.hexdigest()))
"""


def _run(code: str, malloc: str | None = None) -> list:
    env = {k: v for k, v in os.environ.items() if k not in CHILD_ENV and k != MALLOC_ENV}
    if malloc:
        env[MALLOC_ENV] = malloc
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    return [json.loads(line.removeprefix("RESULT ")) for line in out.splitlines() if line.startswith("RESULT ")]


def test_large_blocks_leave_mmap_only_when_reuse_is_on() -> None:
    default = _run(MAPPED.format(setup=""))[0]
    assert default >= 64 * 2**20  # glibc's own behaviour: the tensor is an mmapped block
    setup = "from bench.allocator import reuse_freed_memory; assert reuse_freed_memory()"
    assert _run(MAPPED.format(setup=setup))[0] == 0
    setup = "from bench.allocator import reuse_freed_memory; assert not reuse_freed_memory()"
    assert _run(MAPPED.format(setup=setup), malloc="system")[0] >= 64 * 2**20


def test_the_cli_turns_it_on_for_itself_and_its_children() -> None:
    setup = textwrap.dedent(
        """
        import os
        from bench.cli import cli
        cli.main(["techniques"], standalone_mode=False)
        assert os.environ["MALLOC_MMAP_MAX_"] == "0", os.environ.get("MALLOC_MMAP_MAX_")
        """
    )
    assert _run(MAPPED.format(setup=setup))[-1] == 0
    child = (
        "import subprocess, sys\n"
        + setup
        + "\nsubprocess.run([sys.executable, '-c', "
        + repr(MAPPED.format(setup=""))
        + "], check=True)"
    )
    assert _run(child)[-1] == 0  # a spawned process starts with mmap off, through glibc's environment variables


def test_an_unknown_setting_is_one_line_and_exit_2() -> None:
    env = {**os.environ, MALLOC_ENV: "jemalloc", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli.entry", "techniques"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "Error: DISTRACK_MALLOC: expected one of reuse, system, got 'jemalloc'"


def test_training_gives_the_same_bits_either_way() -> None:
    system = _run(TRAINED.format(setup="reuse_freed_memory()"), malloc="system")
    reuse = _run(TRAINED.format(setup="reuse_freed_memory()"))
    assert system[0] == {"changed": False} and reuse[0] == {"changed": True}
    assert system[1] == reuse[1]


# A 256 MB tensor freed with reuse on: its pages stay resident, until a peak reading starts.
PEAK = """
import json, torch
from bench.allocator import reuse_freed_memory
from bench.device import peak_memory_mb, reset_peak_memory
assert reuse_freed_memory()
def resident():
    line = next(l for l in open("/proc/self/status") if l.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024
before = resident()
big = torch.ones(64 * 2**20)
del big
kept = resident() - before
reset_peak_memory(torch.device("cpu"))
print("RESULT", json.dumps({"kept": kept, "peak_after_reset": peak_memory_mb(torch.device("cpu")) - before}))
"""


def test_a_peak_reading_does_not_count_what_an_earlier_job_left_free() -> None:
    figures = _run(PEAK)[0]
    assert figures["kept"] > 200  # reuse: the freed block stays in the process
    assert figures["peak_after_reset"] < 50  # handed back before the reading starts
