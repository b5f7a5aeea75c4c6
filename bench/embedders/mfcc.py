"""MFCC summary statistics: the classic hand-made audio embedding, needing no weights. The DCT of the suite's
own log-mels (so it reads log-mel sets directly, no inversion), then the mean and standard deviation of each
coefficient over time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchaudio

from bench.embedders.base import Embedder
from bench.embedders.registry import EMBEDDERS
from bench.params import FeatureParams
from bench.typed import ranged


@dataclass(frozen=True)
class MFCCParams:
    n_mfcc: int = ranged(20, ge=1)


@EMBEDDERS.register
class MFCC(Embedder):
    name = "mfcc"
    description = "DCT of the suite's log-mels, mean and std of each coefficient over time (no weights)"
    Params = MFCCParams
    domain = "logmel"

    @torch.no_grad()
    def embed_logmels(self, x: torch.Tensor, features: FeatureParams) -> np.ndarray:
        n_mfcc = min(self.params.n_mfcc, features.n_mels)
        dct = torchaudio.functional.create_dct(n_mfcc, features.n_mels, norm="ortho").to(x.dtype)
        coefficients = torch.einsum("nmt,mk->nkt", x[:, 0], dct)
        return torch.cat([coefficients.mean(dim=2), coefficients.std(dim=2)], dim=1).numpy().astype(np.float64)
