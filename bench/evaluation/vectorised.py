"""The protocol's K evaluation networks trained together: parameters stacked with ``torch.func``
(``stack_module_state`` + ``vmap`` + ``functional_call``) and a functional SGD with momentum, weight decay
and the step schedule that matches ``torch.optim.SGD`` update for update.

Each seed keeps its own initialisation and its own minibatch order (the same generators as the
sequential path), so the result equals :func:`bench.evaluation.protocol.train_network` up to
floating-point reassociation. Worth it where per-step overhead dominates (small training steps on a GPU);
on a CPU, batched convolutions run slower than K separate ones (measured in ``benchmarks/``), so ``auto``
picks the sequential path there, and on a GPU it picks this one only for steps below
:data:`MAX_STEP_GFLOP`. Norm layers with running statistics (batchnorm) cannot be vmapped functionally
and always fall back."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad_and_value, stack_module_state, vmap
from torch.utils.flop_counter import FlopCounterMode

from bench.errors import UserError
from bench.models import ModelSpec
from bench.params import ProtocolParams

MODES = ("auto", "on", "off")
# Activation memory allowed for one vectorised step on a GPU, as a fraction of the free memory.
MEMORY_FRACTION = 0.5
# Forward work of one training step (items per step x forward FLOPs per item) above which K separate networks
# train faster than K vmapped ones on a GPU: below it a step is bound by kernel launches, which vmap shares
# among the seeds; above it vmap's grouped convolutions lose to cuDNN's plain ones. H200, fp32
# (benchmarks.vectorise_crossover): 7.5 GFLOP per step 1.29x faster vectorised, 11.2 GFLOP 0.79x.
MAX_STEP_GFLOP = 10.0


def _activation_bytes(net: nn.Module, x: torch.Tensor, seeds: int, batch: int) -> int:
    """One step's saved activations, estimated from the outputs of every leaf module for one item (twice:
    the forward's saved tensors and their gradients)."""
    sizes: list[int] = []
    leaves = [m for m in net.modules() if not list(m.children())]
    handles = [m.register_forward_hook(lambda _m, _i, out: sizes.append(out.numel())) for m in leaves]
    with torch.no_grad():
        net(x[:1].detach().cpu())
    for handle in handles:
        handle.remove()
    return 2 * seeds * batch * sum(sizes) * x.element_size()


def step_forward_gflop(net: nn.Module, x: torch.Tensor, batch: int) -> float:
    """Forward GFLOP of one training step of ``net`` on ``x`` (counted on one item, on the CPU)."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(x[:1].detach().cpu())
    return min(batch, len(x)) * counter.get_total_flops() / 1e9


def use_vectorised(
    mode: str, x: torch.Tensor, model: ModelSpec, num_classes: int, protocol: ProtocolParams, device
) -> bool:
    if mode not in MODES:
        raise UserError(f"--vectorise must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off" or len(protocol.seeds) < 2:
        return False
    net = model.build(tuple(x.shape[1:]), num_classes, 0)
    if not net.per_sample:  # running statistics (batch norm) cannot be vmapped functionally
        return False
    if torch.device(device).type == "cuda":
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        fits = _activation_bytes(net, x, len(protocol.seeds), protocol.batch_size) < MEMORY_FRACTION * free
        if mode == "auto" and step_forward_gflop(net, x, protocol.batch_size) > MAX_STEP_GFLOP:
            return False
        return fits  # "on" still falls back when it would not fit
    return mode == "on"


def train_networks(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    model_params: ModelSpec,
    protocol: ProtocolParams,
    device: torch.device,
    lr: float | None = None,
) -> tuple[list[nn.Module], list[float]]:
    """One network per protocol seed, trained in lock-step; returns them and their last-epoch mean losses."""
    from bench.evaluation.protocol import lr_at_epoch

    seeds = list(protocol.seeds)
    models = [model_params.build(tuple(x.shape[1:]), num_classes, seed).to(device) for seed in seeds]
    params, buffers = stack_module_state(models)
    template = copy.deepcopy(models[0]).to("meta")

    def loss_of(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], xb: torch.Tensor, yb: torch.Tensor):
        return F.cross_entropy(functional_call(template, (p, b), (xb,)), yb)

    step = vmap(grad_and_value(loss_of))
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    velocity: dict[str, torch.Tensor] = {}
    base_lr = protocol.lr if lr is None else lr
    x, y = x.to(device), y.to(device)
    n = int(y.numel())
    last = torch.full((len(seeds),), float("nan"))
    for epoch in range(protocol.epochs):
        rate = lr_at_epoch(protocol, base_lr, epoch)
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)
        total, batches = torch.zeros(len(seeds), device=device), 0
        for start in range(0, n, protocol.batch_size):
            index = orders[:, start : start + protocol.batch_size]
            grads, losses = step(params, buffers, x[index], y[index])
            with torch.no_grad():
                for name, param in params.items():
                    change = grads[name] + protocol.weight_decay * param  # torch.optim.SGD, dampening 0
                    if protocol.momentum:
                        if name in velocity:
                            change = velocity[name].mul_(protocol.momentum).add_(change)
                        else:
                            velocity[name] = change = change.clone()
                    param.sub_(rate * change)
            total += losses.detach()
            batches += 1
        last = (total / batches).cpu()
    with torch.no_grad():
        for index, model in enumerate(models):
            for name, tensor in model.named_parameters():
                tensor.copy_(params[name][index])
    return models, last.tolist()
