"""Waveform -> fixed-size log-mel spectrogram, and its approximate inverse (Griffin-Lim)."""

from __future__ import annotations

import numpy as np
import torch
import torchaudio

from bench.params import FeatureParams


class LogMel:
    """Resample, mono, pad/crop to ``params.num_samples``, log(mel power + eps): shape (1, n_mels, frames)."""

    def __init__(self, params: FeatureParams) -> None:
        self.params = params
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=params.sample_rate,
            n_fft=params.n_fft,
            hop_length=params.hop_length,
            n_mels=params.n_mels,
            f_min=params.f_min,
            f_max=params.f_max,
            power=2.0,
            center=True,
        )

    def fix_length(self, wave: np.ndarray, sample_rate: int) -> torch.Tensor:
        """Resample to the feature rate, then zero-pad or crop the end to the fixed sample count."""
        tensor = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
        if sample_rate != self.params.sample_rate:
            tensor = torchaudio.functional.resample(tensor, sample_rate, self.params.sample_rate)
        n = self.params.num_samples
        if tensor.numel() >= n:
            return tensor[:n]
        return torch.nn.functional.pad(tensor, (0, n - tensor.numel()))

    def to(self, device: torch.device | str) -> LogMel:
        self.mel = self.mel.to(device)
        return self

    def differentiable(self, waves: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, 1, n_mels, frames), keeping the autograd graph (waveform-domain sets)."""
        spec = self.mel(waves)
        return torch.log(spec + self.params.log_eps).unsqueeze(1)

    @torch.no_grad()
    def __call__(self, waves: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, 1, n_mels, frames)."""
        return self.differentiable(waves)


def logmel_to_waveform(logmel: torch.Tensor, params: FeatureParams, n_iter: int = 64, seed: int = 0) -> torch.Tensor:
    """Invert un-normalised log-mels (batch, 1, n_mels, frames) to waveforms with InverseMelScale +
    Griffin-Lim. Phase is estimated, so the result is a listenable approximation, not the original."""
    power = torch.exp(logmel.squeeze(1).double()) - params.log_eps
    power = power.clamp_min(0.0)
    n_stft = params.n_fft // 2 + 1
    inverse_mel = torchaudio.transforms.InverseMelScale(
        n_stft=n_stft,
        n_mels=params.n_mels,
        sample_rate=params.sample_rate,
        f_min=params.f_min,
        f_max=params.f_max,
    ).double()
    griffin_lim = torchaudio.transforms.GriffinLim(
        n_fft=params.n_fft,
        hop_length=params.hop_length,
        n_iter=n_iter,
        power=2.0,
        rand_init=True,
    ).double()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        wave = griffin_lim(inverse_mel(power))
    peak = wave.abs().amax(dim=-1, keepdim=True).clamp_min(1e-9)
    return (0.9 * wave / peak).float()
