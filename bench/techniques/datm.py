"""Difficulty-Aligned Trajectory Matching (DATM, Guo et al., ICLR 2024).

MTT imitates the same early stretch of expert training at every IPC. DATM's finding: the stretch must suit
the budget. A small set can only reproduce the early, easy epochs; a large set needs later, harder ones, and
matching early epochs is why MTT falls below a random subset at large IPC. Three changes to MTT, each behind
one parameter:

* ``windows``: per IPC, start epochs are drawn from ``[min, upper]``, where ``upper`` grows linearly from
  ``initial_max`` to ``max`` over the first ``expansion_end`` share of the iterations (sequential generation).
  An IPC takes the window of the largest listed IPC at or below it; with none, MTT's ``[0, max_start_epoch]``.
* ``init: correct``: start from real clips that an expert at the window's end classifies correctly. Off by
  default: the quick profile's experts are 8 epochs old, and the clips such an expert already gets right are a
  narrow, easy share of a class (FSDD validation, IPC 10: 0.639 against 0.800 from the random subset).
* ``soft_labels``: every item's label starts as that expert's logits and is learned with the items (``lr_y``);
  the unrolled student trains on their softmax. The set then carries soft labels, read on the ``kd`` track
  with ``set_soft_labels``; the hard-label column trains on its class labels.

With no windows, ``init: real`` and hard labels it is :mod:`mtt` bit for bit (tested).
The unroll repeats MTT's (mtt.py is in the committed mtt records' content keys; it moves onto this one when
the board is re-derived)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch.func import functional_call

from bench.errors import UserError
from bench.features.store import TrainingSplits
from bench.models import build_model
from bench.techniques.augment import AugmentParams, augment
from bench.techniques.base import Budget, DistilledSet
from bench.techniques.loop import Learnables, iteration_generator
from bench.techniques.matching import finish, run_loop
from bench.techniques.mtt import MTTParams, TrajectoryMatching
from bench.techniques.registry import register_technique
from bench.techniques.sampling import ClassSampler
from bench.typed import ranged

INITS = ("real", "noise", "correct")
PREDICT_CHUNK = 512


@dataclass(frozen=True)
class Window:
    """Start epochs are drawn from [low, upper(iteration)]; upper grows from ``initial_max`` to ``high``."""

    low: int
    initial_max: int
    high: int
    expansion_iterations: int

    def upper(self, iteration: int) -> int:
        if self.expansion_iterations <= 0 or iteration >= self.expansion_iterations:
            return self.high
        return self.initial_max + (self.high - self.initial_max) * iteration // self.expansion_iterations


@dataclass(frozen=True)
class DATMParams(MTTParams):
    # IPC -> [min start epoch, initial max start epoch, max start epoch]
    windows: Mapping[Any, Any] = field(default_factory=dict)
    expansion_end: float = ranged(0.5, ge=0, le=1)  # share of the iterations over which the upper bound grows
    soft_labels: bool = False
    lr_y: float = ranged(2.0, ge=0)  # learning rate of the soft labels' logits

    def __post_init__(self) -> None:
        # YAML gives integer keys, a record's JSON string keys: one spelling, so both hash alike
        keys = sorted(self.windows, key=lambda k: (len(str(k)), str(k)))
        object.__setattr__(self, "windows", {str(k): self.windows[k] for k in keys})


def window_for(p: DATMParams, ipc: int, iterations: int) -> Window:
    """The window of the largest IPC in ``p.windows`` at or below ``ipc``, checked against the experts."""
    where = "techniques.datm.windows"
    entries: dict[int, list[int]] = {}
    for key, value in p.windows.items():
        if not str(key).isdigit() or int(key) < 1:
            raise UserError(f"{where}: keys are IPC values (integers >= 1), got {key!r}")
        if not (isinstance(value, list | tuple) and len(value) == 3 and all(isinstance(v, int) for v in value)):
            raise UserError(f"{where}.{key}: expected [min, initial_max, max] start epochs, got {value!r}")
        entries[int(key)] = list(value)
    listed = [k for k in entries if k <= ipc]
    low, initial, high = entries[max(listed)] if listed else (0, p.max_start_epoch, p.max_start_epoch)
    if not 0 <= low <= initial <= high:
        raise UserError(f"{where}: IPC {ipc} needs 0 <= min <= initial_max <= max, got [{low}, {initial}, {high}]")
    if high + p.expert_epochs > p.expert_train_epochs:
        raise UserError(
            f"{where}: IPC {ipc} starts up to epoch {high}, + expert_epochs ({p.expert_epochs}) exceeds "
            f"expert_train_epochs ({p.expert_train_epochs})"
        )
    return Window(low, initial, high, int(p.expansion_end * iterations))


def correctly_classified(
    train_set: TrainingSplits, ipc: int, seed: int, predict: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """Per class, ``ipc`` training indices in a seeded order, those ``predict`` gets right first."""
    generator = iteration_generator(seed, 0, "datm-init")
    x, y = train_set.train.x, train_set.train.y
    chosen = []
    for c in range(train_set.num_classes):
        members = torch.nonzero(y == c).flatten()
        order = members[torch.randperm(len(members), generator=generator)]
        predicted = torch.cat([predict(x[chunk]) for chunk in order.split(PREDICT_CHUNK)])
        right = predicted.cpu() == c
        chosen.append(torch.cat([order[right], order[~right]])[:ipc])
    return torch.cat(chosen)


@register_technique
class DifficultyAlignedTrajectoryMatching(TrajectoryMatching):
    name = "datm"
    description = "Trajectory Matching with IPC-aligned expert epochs, correct-clip init, learned soft labels (DATM)"
    Params = DATMParams
    profile_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "quick": {
            **TrajectoryMatching.profile_defaults["quick"],
            "windows": {1: [0, 1, 2], 10: [0, 2, 4], 50: [2, 4, 6]},
        },
        "standard": {
            **TrajectoryMatching.profile_defaults["standard"],
            "windows": {1: [0, 5, 10], 10: [0, 10, 20], 50: [10, 20, 28]},
        },
    }

    def distill(self, train_set, ipc, seed, budget: Budget, device, progress) -> DistilledSet:
        p: DATMParams = self.params
        if p.init not in INITS:
            raise UserError(f"techniques.datm.init: expected one of {', '.join(INITS)}, got {p.init!r}")
        iterations = budget.iterations if budget.iterations is not None else p.iterations
        window = window_for(p, ipc, iterations)
        store = self.expert_store(train_set, device, progress)
        num_experts = len(store.paths())
        net = build_model(self.context.model, train_set.shape, train_set.num_classes, 0).to(device)
        names = [name for name, _ in net.named_parameters()]
        shapes = [param.shape for _, param in net.named_parameters()]
        sizes = [param.numel() for _, param in net.named_parameters()]

        def unflatten(flat: torch.Tensor) -> dict[str, torch.Tensor]:
            return {n: t.view(s) for n, t, s in zip(names, flat.split(sizes), shapes, strict=True)}

        label_expert = int(torch.randint(num_experts, (1,), generator=iteration_generator(seed, 0, "datm-expert")))
        expert_params = unflatten(store.epochs(label_expert, window.high)[0].to(device))

        @torch.no_grad()
        def expert_logits(batch: torch.Tensor) -> torch.Tensor:
            return functional_call(net, expert_params, (batch.to(device),))

        if p.init == "correct":
            index = correctly_classified(train_set, ipc, seed, lambda batch: expert_logits(batch).argmax(1))
            x0, y = train_set.train.x[index].to(device), train_set.train.y[index].to(device)
        else:
            x0, y = ClassSampler(train_set, device).initial(ipc, p.init, seed)
        spec = {
            "x": (x0, p.lr_img, p.momentum),
            "lr": (torch.tensor(p.lr_teacher, device=device), p.lr_lr, p.momentum),
        }
        if p.soft_labels:
            spec["y"] = (torch.cat([expert_logits(chunk) for chunk in x0.split(PREDICT_CHUNK)]), p.lr_y, p.momentum)
        learn = Learnables.create(spec)
        augment_params = AugmentParams()
        batch_syn = p.batch_syn or len(y)

        def loss_on(logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            if not p.soft_labels:
                return F.cross_entropy(logits, y[idx])
            targets = torch.softmax(learn.tensors["y"][idx], dim=1)
            return -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()

        def step(iteration: int) -> float:
            generator = iteration_generator(seed, iteration, "batch")
            expert = int(torch.randint(num_experts, (1,), generator=generator))
            upper = window.upper(iteration)
            start_epoch = window.low + int(torch.randint(upper - window.low + 1, (1,), generator=generator))
            start, target = (t.to(device) for t in store.epochs(expert, start_epoch, start_epoch + p.expert_epochs))
            student = start.clone().requires_grad_(True)
            syn_x, syn_lr = learn.tensors["x"], learn.tensors["lr"]
            for _ in range(p.syn_steps):
                idx = torch.randperm(len(y), generator=generator)[:batch_syn].to(device)
                batch = syn_x[idx]
                if p.augment:
                    batch = augment(batch, augment_params, generator, per_sample=True)
                logits = functional_call(net, unflatten(student), (batch,))
                grad = torch.autograd.grad(loss_on(logits, idx), student, create_graph=True)[0]
                student = student - syn_lr * grad
            loss = ((student - target) ** 2).sum() / ((start - target) ** 2).sum().clamp_min(1e-12)
            learn.zero_grad()
            loss.backward()
            learn.step()
            return float(loss.detach())

        history = run_loop(self, train_set, ipc, seed, learn, y, iterations, step, progress)
        lr = float(learn.tensors["lr"].detach())
        if not lr > 0:
            raise UserError(f"datm: the learned learning rate ended at {lr}; lower lr_lr")
        result = finish(self, learn.tensors["x"], y, history, iterations, lr=lr)
        if p.soft_labels:
            result.soft = torch.softmax(learn.tensors["y"].detach(), dim=1).cpu()
        return result
