"""Distribution Matching in the waveform domain: the stored items are waveforms at the features' sample rate,
learned through the suite's differentiable front end (torchaudio's mel spectrogram, log, the dataset's
normalisation), so a distilled set is listened to exactly as it trains, with no Griffin-Lim at the end.

It is DM's loop with one change of variable: every iteration renders the waveforms to normalised log-mels
and matches class means of random ConvNet embeddings, as ``dm`` does on log-mels directly; the waveforms move
by sign steps scaled to each sample's size (see ``update``), a stateless rule, so a resumed run still
continues bit for bit. Items start from
the same random real subset as ``dm``'s, inverted once (Griffin-Lim) and rescaled to each clip's mel
energy, so the two differ only in the domain they optimise, which is the comparison it exists for."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from bench.features.logmel import LogMel, logmel_to_waveform
from bench.models import build_model
from bench.sets.items import waveform_to_logmel
from bench.sets.references import random_real_subset
from bench.techniques.augment import AugmentParams
from bench.techniques.base import Budget, DistilledSet, Technique
from bench.techniques.dm import class_means
from bench.techniques.loop import Learnables, iteration_generator, iteration_seed
from bench.techniques.matching import finish, run_loop, siamese
from bench.techniques.registry import register_technique
from bench.techniques.sampling import ClassSampler
from bench.typed import ranged, require_choice


@dataclass(frozen=True)
class WaveformDMParams:
    iterations: int = ranged(1000, ge=1)
    lr_img: float = ranged(0.03, gt=0)  # relative steps: the share of its own size a sample moves per iteration
    momentum: float = ranged(0.5, ge=0, le=1)
    batch_real: int = ranged(256, ge=1)
    augment: bool = True
    griffin_lim_iters: int = ranged(32, ge=1)  # the one inversion of the starting log-mels
    # "sign": every sample steps by lr_img along its gradient's sign (the log of near-silent samples' mel power
    # makes their gradients ~1e4 times the loud ones', and plain steps blow the set up); "relative": a sign step
    # of lr_img times the sample's own magnitude (silence stays silent); "gradient": plain SGD.
    update: str = "relative"


UPDATES = ("sign", "relative", "gradient")


def initial_waveforms(logmels: torch.Tensor, params, iterations: int, seed: int) -> torch.Tensor:
    """Un-normalised log-mels (n, 1, mels, frames) -> (n, num_samples) waveforms whose mel energy matches."""
    waves = logmel_to_waveform(logmels, params, n_iter=iterations, seed=seed)
    n = params.num_samples
    waves = torch.nn.functional.pad(waves, (0, max(0, n - waves.shape[-1])))[:, :n]
    rendered = LogMel(params)(waves)
    gain = (logmels.exp().mean(dim=(1, 2, 3)) / rendered.exp().mean(dim=(1, 2, 3)).clamp_min(1e-12)).sqrt()
    return waves * gain[:, None]


@register_technique
class WaveformDistributionMatching(Technique):
    name = "dm-waveform"
    description = "DM on waveforms learned through the differentiable log-mel front end (listenable as is)"
    Params = WaveformDMParams
    profile_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "quick": {"iterations": 200, "batch_real": 128},
        "standard": {"iterations": 20000},
    }

    def distill(self, train_set, ipc, seed, budget: Budget, device, progress) -> DistilledSet:
        p: WaveformDMParams = self.params
        require_choice(p.update, UPDATES, "techniques.dm-waveform.update")
        iterations = budget.iterations if budget.iterations is not None else p.iterations
        num_classes = train_set.num_classes
        sampler = ClassSampler(train_set, device)
        start = random_real_subset(train_set, ipc, seed)
        waves = initial_waveforms(train_set.denormalise(start.x), train_set.params, p.griffin_lim_iters, seed)
        y = start.y.to(device)
        learn = Learnables.create({"x": (waves.to(device), p.lr_img, p.momentum)})
        augment_params = AugmentParams()

        def step(iteration: int) -> float:
            generator = iteration_generator(seed, iteration, "batch")
            net = build_model(self.context.model, train_set.shape, num_classes, iteration_seed(seed, iteration, "net"))
            net = net.to(device).requires_grad_(False)
            real_x, real_y = sampler.per_class(p.batch_real, generator)
            syn_x = waveform_to_logmel(learn.tensors["x"], train_set.params, train_set.mean, train_set.std)
            if p.augment:
                real_x, syn_x = siamese(augment_params, generator, real_x, syn_x)
            with torch.no_grad():
                real_means = class_means(net.embed(real_x), real_y, num_classes)
            loss = ((real_means - class_means(net.embed(syn_x), y, num_classes)) ** 2).sum()
            learn.zero_grad()
            loss.backward()
            x = learn.tensors["x"]
            if p.update == "sign":
                x.grad.sign_()
            elif p.update == "relative":
                x.grad = x.grad.sign() * x.detach().abs()
            learn.step()
            return float(loss.detach())

        context = self.context
        if context.monitor is not None:  # the validation monitor trains on log-mels: give it the waveforms rendered
            monitor = context.monitor

            def rendered(x: torch.Tensor, labels: torch.Tensor, lr: float | None) -> float:
                with torch.no_grad():
                    logmels = waveform_to_logmel(x, train_set.params, train_set.mean, train_set.std)
                return monitor(logmels, labels, lr)

            self.context = dataclasses.replace(context, monitor=rendered)
        try:
            history = run_loop(self, train_set, ipc, seed, learn, y, iterations, step, progress)
        finally:
            self.context = context
        result = finish(self, learn.tensors["x"], y, history, iterations)
        result.domain = "waveform"
        return result
