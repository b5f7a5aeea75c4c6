"""From a stored set to the items a network trains on: decode factorised items, then bring waveform items
into the dataset's normalised log-mel space through the suite's front end (differentiably, so a technique
can learn waveforms through it)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.features.logmel import LogMel
from bench.params import FeatureParams
from bench.sets.decoders import Decoder
from bench.sets.files import LabelledSet


@dataclass
class TrainingItems:
    x: torch.Tensor  # (m, 1, n_mels, frames), normalised log-mels
    y: torch.Tensor  # (m,) hard labels
    soft: torch.Tensor | None  # (m, classes) or None
    lr: float | None


def waveform_to_logmel(waves: torch.Tensor, params: FeatureParams, mean: float, std: float) -> torch.Tensor:
    """(n, samples) waveforms -> (n, 1, n_mels, frames) in the dataset's normalised units."""
    return (LogMel(params).to(waves.device).differentiable(waves) - mean) / std


def training_items(labelled: LabelledSet, params: FeatureParams, mean: float, std: float) -> TrainingItems:
    x, y, soft = labelled.x, labelled.y, labelled.soft
    if labelled.domain == "waveform":
        x = waveform_to_logmel(x, params, mean, std)
    if labelled.decoder is not None:
        decoder = Decoder.from_spec(labelled.decoder, "set decoder")
        k = decoder.items_per_stored()
        x = decoder.decode(x)
        y = y.repeat_interleave(k)
        soft = None if soft is None else soft.repeat_interleave(k, dim=0)
    return TrainingItems(x, y, soft, labelled.lr)
