"""Peak memory is measured per piece of work, and the device string reads well."""

import sys

import pytest
import torch

from bench.device import cpu_threads, device_description, peak_memory_mb, reset_peak_memory

CPU = torch.device("cpu")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the per-cell CPU peak needs Linux's /proc")
def test_a_reset_forgets_an_earlier_larger_peak_on_cpu():
    reset_peak_memory(CPU)
    baseline = peak_memory_mb(CPU)
    big = torch.ones(100 * 2**20)  # 400 MB, touched
    del big
    assert peak_memory_mb(CPU) > baseline + 350  # the high-water mark survives the free
    reset_peak_memory(CPU)
    small = torch.ones(2**20)  # 4 MB
    assert peak_memory_mb(CPU) < baseline + 100, "an earlier cell's peak leaked into this one's"
    del small


def test_the_cpu_description_counts_threads_in_words():
    with cpu_threads(1):
        assert device_description(CPU) == "cpu (1 thread)"
    with cpu_threads(2):
        assert device_description(CPU) == "cpu (2 threads)"
