"""Expert trajectories are cached under the CPU thread count they train with: trained with another one they sum
in another order and are other experts, and a distillation must read the ones its own thread count trains (an
mtt set distilled with 2 threads did not come back from trajectories a 1-thread run had cached)."""

from __future__ import annotations

import torch

from bench.device import cpu_threads
from bench.techniques import DistillContext, get_technique
from bench.techniques.experts import experts_key
from tests.test_techniques import CPU, MODEL, TINY, synthetic  # noqa: F401 (synthetic: a fixture)


def test_experts_are_cached_per_cpu_thread_count(synthetic, tmp_path):  # noqa: F811
    cls = get_technique("mtt")
    technique = cls(cls.configure("tiny", TINY["mtt"]), DistillContext(model=MODEL, cache_dir=tmp_path))
    with cpu_threads(1):
        one = technique.expert_store(synthetic, CPU, False)
    with cpu_threads(2):
        two = technique.expert_store(synthetic, CPU, False)
    assert one.folder != two.folder and one.paths() and two.paths()
    with cpu_threads(1):
        assert technique.expert_store(synthetic, CPU, False).folder == one.folder  # found again, not retrained
    params = technique.params.experts()
    gpu = torch.device("cuda")  # a GPU's experts do not depend on the CPU's threads
    with cpu_threads(1):
        on_gpu = experts_key(synthetic, MODEL, params, gpu)
    with cpu_threads(2):
        assert experts_key(synthetic, MODEL, params, gpu) == on_gpu
