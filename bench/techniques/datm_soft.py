"""DATM with learned soft labels, under its own name so that its rows never share a board cell with hard-label
DATM (a technique's name is a row; a parameter is not).

The set is :mod:`datm`'s with ``soft_labels: true``: every item's label starts as the logits of an expert at
the end of its IPC's window and is learned with the items (``lr_y``). The board reads the set twice, never in
one column: the ``kd-own-labels`` track trains on the learned soft labels, the hard-label ``convnet`` track on
its class labels. Same seed, same params: the set of ``datm`` with ``soft_labels: true``, tensor for tensor."""

from __future__ import annotations

from dataclasses import dataclass

from bench.techniques.datm import DATMParams, DifficultyAlignedTrajectoryMatching
from bench.techniques.registry import register_technique


@dataclass(frozen=True)
class DATMSoftParams(DATMParams):
    soft_labels: bool = True


@register_technique
class SoftLabelDATM(DifficultyAlignedTrajectoryMatching):
    name = "datm-soft"
    description = "DATM with learned soft labels: expert logits at the window's end, learned with the items"
    Params = DATMSoftParams
