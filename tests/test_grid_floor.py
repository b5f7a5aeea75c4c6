"""benchmarks.grid_floor's FLOP tally counts what torch's own FlopCounterMode counts, backward included, so the
floor it prints is torch's arithmetic and not an estimate of ours."""

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.grid_floor import FlopTally


def _training_step() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))
    loss = nn.functional.cross_entropy(net(torch.randn(5, 1, 8, 8)), torch.tensor([0, 1, 2, 0, 1]))
    loss.backward()


def test_the_tally_equals_torchs_flop_counter_on_a_training_step():
    with FlopTally() as tally:
        _training_step()
    with FlopCounterMode(display=False) as counter:
        _training_step()
    assert tally.total == counter.get_total_flops()
    conv = 2 * 5 * 4 * 9 * 8 * 8  # a multiply-add is two FLOPs: 5 items, 4 channels, 3x3 kernel, 8x8 outputs
    linear = 2 * 5 * (4 * 8 * 8) * 3
    # conv forward and its weight gradient (its input needs none); linear forward and both of its gradients
    assert tally.total == 2 * conv + 3 * linear


def test_the_tally_counts_only_inside_its_block():
    with FlopTally() as tally:
        pass
    _training_step()
    assert tally.total == 0
