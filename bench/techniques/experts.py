"""Expert trajectories for Trajectory Matching: networks trained on the full training set, their
parameters saved after every epoch. An artefact of its own, reused across IPC values and techniques.

Each expert is one safetensors file holding ``trajectory`` (epochs + 1, n_params), flat, optionally
in float16 (halving the disk), so the distillation loop reads just the two rows it needs per
iteration (lazily, through ``safe_open``) instead of whole trajectories."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import safetensors
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from bench.atomic import atomic_path
from bench.features.store import TrainingSplits
from bench.hashing import sha256_json
from bench.models import ModelSpec, build_model
from bench.progress import progress_bar
from bench.techniques.augment import AugmentParams, augment
from bench.techniques.loop import iteration_generator, iteration_seed


@dataclass(frozen=True)
class ExpertParams:
    num_experts: int = 5
    epochs: int = 20
    lr: float = 0.01
    batch_size: int = 256
    augment: bool = True
    half_precision: bool = True
    seed: int = 0


def flatten(net: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()])


def experts_key(train_set: TrainingSplits, model: ModelSpec, params: ExpertParams, device: torch.device) -> str:
    """The cache key of a set of trajectories. On a CPU it covers the thread count they train with: another one
    sums in another order and trains other experts, and a distillation must read those of its own thread count
    (or a set distilled with 2 threads would not come back from trajectories cached by a 1-thread run)."""
    return sha256_json(
        {
            "data": train_set.cache_key,
            "model": model.describe(),
            "experts": dataclasses.asdict(params),
            "version": 1,
            **({"threads": torch.get_num_threads()} if device.type == "cpu" else {}),
        }
    )


class ExpertStore:
    """A folder of expert trajectories for one (dataset features, model, expert params)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def paths(self) -> list[Path]:
        return sorted(self.folder.glob("expert_*.safetensors"))

    def epochs(self, expert: int, *rows: int) -> list[torch.Tensor]:
        """Read only the requested epochs of one expert, as float32."""
        with safetensors.safe_open(str(self.paths()[expert]), framework="pt") as handle:
            trajectory = handle.get_slice("trajectory")
            return [trajectory[row : row + 1].float().reshape(-1) for row in rows]

    def num_epochs(self) -> int:
        with safetensors.safe_open(str(self.paths()[0]), framework="pt") as handle:
            return int(handle.get_slice("trajectory").get_shape()[0]) - 1


def train_experts(
    train_set: TrainingSplits,
    model: ModelSpec,
    params: ExpertParams,
    folder: Path,
    device: torch.device,
    progress: bool = False,
) -> ExpertStore:
    """Train the experts that are missing from ``folder`` (a resumed stage only trains the rest)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.json").write_text(json.dumps(dataclasses.asdict(params), indent=2, sort_keys=True))
    augment_params = AugmentParams()
    x, y = train_set.train.x.to(device), train_set.train.y.to(device)
    with progress_bar(range(params.num_experts), f"experts {train_set.dataset}", progress) as experts:
        for index in experts:
            target = folder / f"expert_{index:03d}.safetensors"
            if target.is_file():
                continue
            seed = iteration_seed(params.seed, index, "expert")
            net = build_model(model, train_set.shape, train_set.num_classes, seed).to(device)
            optimiser = torch.optim.SGD(net.parameters(), lr=params.lr, momentum=0.0, weight_decay=0.0)
            snapshots = [flatten(net).cpu()]
            for epoch in range(params.epochs):
                generator = iteration_generator(seed, epoch, "expert-epoch")
                order = torch.randperm(len(y), generator=generator).to(device)
                for start in range(0, len(y), params.batch_size):
                    idx = order[start : start + params.batch_size]
                    batch = x[idx]
                    if params.augment:
                        batch = augment(batch, augment_params, generator, per_sample=True)
                    loss = F.cross_entropy(net(batch), y[idx])
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                snapshots.append(flatten(net).cpu())
            trajectory = torch.stack(snapshots)
            if params.half_precision:
                trajectory = trajectory.half()
            with atomic_path(target) as tmp:
                save_file({"trajectory": trajectory.contiguous()}, str(tmp))
    return ExpertStore(folder)
