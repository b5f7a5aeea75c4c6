"""MTT whose unroll is recomputed step by step in the backward pass (:mod:`unroll`), under its own name.

Same algorithm, params, experts and random draws as :mod:`mtt`; what changes is memory. ``mtt`` keeps every
unrolled step's activations and their double-backward graph (peak resident 6.5 GB for one IPC 10 iteration of
20 steps at width 64, against the reference code's 12.8 GB); ``mtt-lean`` keeps one step's, and pays each step's
forward and first-order backward twice. Its sets equal ``mtt``'s up to the order of float sums (tested), which
is why it is a name of its own: ``mtt``'s committed records are computed with the full unroll, and a row holds
one computation. Use it where ``syn_steps`` or the synthetic batch would not fit (the standard profile's 40
steps, IPC 50)."""

from __future__ import annotations

import torch

from bench.errors import UserError
from bench.models import build_model
from bench.techniques.augment import AugmentParams, augment
from bench.techniques.base import Budget, DistilledSet
from bench.techniques.loop import Learnables, iteration_generator
from bench.techniques.matching import finish, run_loop
from bench.techniques.mtt import MTTParams, TrajectoryMatching
from bench.techniques.registry import register_technique
from bench.techniques.sampling import ClassSampler
from bench.techniques.unroll import FlatNetwork, recomputed_unroll


@register_technique
class LeanTrajectoryMatching(TrajectoryMatching):
    name = "mtt-lean"
    description = "MTT with the unroll recomputed step by step in the backward pass: one step's activations in memory"

    def distill(self, train_set, ipc, seed, budget: Budget, device, progress) -> DistilledSet:
        p: MTTParams = self.params
        iterations = budget.iterations if budget.iterations is not None else p.iterations
        store = self.expert_store(train_set, device, progress)
        num_experts = len(store.paths())
        x0, y = ClassSampler(train_set, device).initial(ipc, p.init, seed)
        learn = Learnables.create(
            {
                "x": (x0, p.lr_img, p.momentum),
                "lr": (torch.tensor(p.lr_teacher, device=device), p.lr_lr, p.momentum),
            }
        )
        network = FlatNetwork.of(build_model(self.context.model, train_set.shape, train_set.num_classes, 0).to(device))
        augment_params = AugmentParams()
        batch_syn = p.batch_syn or len(y)

        def draw(items: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
            idx = torch.randperm(len(y), generator=generator)[:batch_syn].to(device)
            batch = items[idx]
            if p.augment:
                batch = augment(batch, augment_params, generator, per_sample=True)
            return batch, y[idx]

        def step(iteration: int) -> float:
            generator = iteration_generator(seed, iteration, "batch")
            expert = int(torch.randint(num_experts, (1,), generator=generator))
            start_epoch = int(torch.randint(p.max_start_epoch + 1, (1,), generator=generator))
            start, target = (t.to(device) for t in store.epochs(expert, start_epoch, start_epoch + p.expert_epochs))
            learn.zero_grad()
            x, lr = learn.tensors["x"], learn.tensors["lr"]
            loss = recomputed_unroll(network, start, target, x, lr, p.syn_steps, draw, generator)
            learn.step()
            return loss

        history = run_loop(self, train_set, ipc, seed, learn, y, iterations, step, progress)
        lr = float(learn.tensors["lr"].detach())
        if not lr > 0:
            raise UserError(f"mtt-lean: the learned learning rate ended at {lr}; lower lr_lr")
        return finish(self, learn.tensors["x"], y, history, iterations, lr=lr)
