"""Trajectory Matching (MTT, Cazenavette et al., CVPR 2022).

Start a student at a random expert epoch <= ``max_start_epoch``, train it ``syn_steps`` steps on the
synthetic set with a learnable learning rate, and minimise the distance between where it lands and
where the expert was ``expert_epochs`` later, normalised by how far the expert moved. The student is
unrolled functionally (``torch.func.functional_call``) so the loss differentiates through every step.

Memory: the unroll keeps ``syn_steps`` copies of the activations of a ``batch_syn`` forward pass plus
``syn_steps + 1`` flat parameter vectors: roughly syn_steps x (batch_syn x activation size + n_params)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch.func import functional_call

from bench.errors import UserError
from bench.models import build_model
from bench.techniques.augment import AugmentParams, augment
from bench.techniques.base import Budget, DistilledSet, Technique
from bench.techniques.experts import ExpertParams, ExpertStore, experts_key, train_experts
from bench.techniques.loop import Learnables, iteration_generator
from bench.techniques.matching import finish, run_loop
from bench.techniques.registry import register_technique
from bench.techniques.sampling import ClassSampler
from bench.typed import ranged


@dataclass(frozen=True)
class MTTParams:
    iterations: int = ranged(5000, ge=1)
    syn_steps: int = ranged(20, ge=1)
    expert_epochs: int = ranged(2, ge=1)
    max_start_epoch: int = ranged(10, ge=0)
    lr_img: float = ranged(100.0, gt=0)
    lr_lr: float = ranged(1e-5, ge=0)
    lr_teacher: float = ranged(0.01, gt=0)
    momentum: float = ranged(0.5, ge=0, le=1)
    batch_syn: int | None = ranged(None, ge=1)  # None: the whole synthetic set each step
    init: str = "real"
    augment: bool = True
    # expert trajectories (a separate, cached artefact)
    num_experts: int = ranged(5, ge=1)
    expert_train_epochs: int = ranged(20, ge=1)
    # Minibatch of the experts' SGD. The unrolled student mimics expert_epochs epochs of it in syn_steps
    # steps, so a small training set needs a small batch: ESC-10's 240 clips at 256 make ONE step per
    # epoch, the student overshoots it ~10x and the learned lr diverges (params.yaml sets 32 there).
    expert_batch_size: int = ranged(256, ge=1)
    expert_half_precision: bool = True

    def experts(self) -> ExpertParams:
        return ExpertParams(
            num_experts=self.num_experts,
            epochs=self.expert_train_epochs,
            lr=self.lr_teacher,
            batch_size=self.expert_batch_size,
            half_precision=self.expert_half_precision,
        )


@register_technique
class TrajectoryMatching(Technique):
    name = "mtt"
    description = "Trajectory Matching against expert training trajectories"
    Params = MTTParams
    profile_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "quick": {"iterations": 100, "syn_steps": 10, "max_start_epoch": 4, "num_experts": 3, "expert_train_epochs": 8},
        "standard": {
            "iterations": 5000,
            "syn_steps": 40,
            "max_start_epoch": 20,
            "num_experts": 10,
            "expert_train_epochs": 30,
        },
    }

    def expert_store(self, train_set, device, progress) -> ExpertStore:
        p: MTTParams = self.params
        if p.max_start_epoch + p.expert_epochs > p.expert_train_epochs:
            raise UserError(
                f"techniques.mtt: max_start_epoch ({p.max_start_epoch}) + expert_epochs "
                f"({p.expert_epochs}) exceeds expert_train_epochs ({p.expert_train_epochs})"
            )
        root = self.context.cache_dir / "experts"
        folder = root / f"{train_set.dataset}-{experts_key(train_set, self.context.model, p.experts(), device)[:16]}"
        return train_experts(train_set, self.context.model, p.experts(), folder, device, progress)

    def distill(self, train_set, ipc, seed, budget: Budget, device, progress) -> DistilledSet:
        p: MTTParams = self.params
        iterations = budget.iterations if budget.iterations is not None else p.iterations
        store = self.expert_store(train_set, device, progress)
        num_experts = len(store.paths())
        sampler = ClassSampler(train_set, device)
        x0, y = sampler.initial(ipc, p.init, seed)
        learn = Learnables.create(
            {
                "x": (x0, p.lr_img, p.momentum),
                "lr": (torch.tensor(p.lr_teacher, device=device), p.lr_lr, p.momentum),
            }
        )
        net = build_model(self.context.model, train_set.shape, train_set.num_classes, 0).to(device)
        names = [name for name, _ in net.named_parameters()]
        shapes = [param.shape for _, param in net.named_parameters()]
        sizes = [param.numel() for _, param in net.named_parameters()]
        augment_params = AugmentParams()
        batch_syn = p.batch_syn or len(y)

        def unflatten(flat: torch.Tensor) -> dict[str, torch.Tensor]:
            return {n: t.view(s) for n, t, s in zip(names, flat.split(sizes), shapes, strict=True)}

        def step(iteration: int) -> float:
            generator = iteration_generator(seed, iteration, "batch")
            expert = int(torch.randint(num_experts, (1,), generator=generator))
            start_epoch = int(torch.randint(p.max_start_epoch + 1, (1,), generator=generator))
            start, target = (t.to(device) for t in store.epochs(expert, start_epoch, start_epoch + p.expert_epochs))
            student = start.clone().requires_grad_(True)
            syn_x, syn_lr = learn.tensors["x"], learn.tensors["lr"]
            for _ in range(p.syn_steps):
                idx = torch.randperm(len(y), generator=generator)[:batch_syn].to(device)
                batch = syn_x[idx]
                if p.augment:
                    batch = augment(batch, augment_params, generator, per_sample=True)
                logits = functional_call(net, unflatten(student), (batch,))
                grad = torch.autograd.grad(F.cross_entropy(logits, y[idx]), student, create_graph=True)[0]
                student = student - syn_lr * grad
            loss = ((student - target) ** 2).sum() / ((start - target) ** 2).sum().clamp_min(1e-12)
            learn.zero_grad()
            loss.backward()
            learn.step()
            return float(loss.detach())

        history = run_loop(self, train_set, ipc, seed, learn, y, iterations, step, progress)
        lr = float(learn.tensors["lr"].detach())
        if not lr > 0:
            raise UserError(f"mtt: the learned learning rate ended at {lr}; lower lr_lr")
        return finish(self, learn.tensors["x"], y, history, iterations, lr=lr)
