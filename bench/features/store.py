"""Feature sets: log-mels of every clip of a dataset, cached on disk keyed by content.

The cache key covers the bytes of every audio file, its label and split, the feature parameters and
the extraction code version, so a changed file or parameter can never be served a stale tensor.
Normalisation statistics come from the training split only."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import safetensors
import torch
from safetensors.torch import load_file, save_file

from bench.atomic import atomic_path
from bench.data.clips import SPLITS, ClipIndex
from bench.data.registry import DatasetAdapter
from bench.errors import DataError, UserError
from bench.features.logmel import LogMel
from bench.hashing import sha256_file, sha256_json
from bench.params import FeatureParams
from bench.progress import progress_bar

# Bump when extraction code changes what it produces: every cached feature set is then rebuilt.
FEATURES_VERSION = 1
_BATCH = 256


def _in_threads(function: Callable, items: Iterable, workers: int) -> Iterator:
    """``map(function, items)`` in order, spread over ``workers`` threads."""
    if workers <= 1:
        yield from map(function, items)
        return
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        yield from pool.map(function, items)
    finally:  # a consumer that stops early (a bad file) cancels what is still queued
        pool.shutdown(cancel_futures=True)


@dataclass
class LabelledTensors:
    x: torch.Tensor  # (n, 1, n_mels, frames), normalised
    y: torch.Tensor  # (n,), int64

    def __len__(self) -> int:
        return int(self.y.numel())


@dataclass
class TrainingSplits:
    """What a technique may see: the training and validation splits with their feature space. The test split
    stays inside evaluation; asking for it here is an error, so no technique can select on it by accident."""

    dataset: str
    class_names: list[str]
    params: FeatureParams
    train: LabelledTensors
    validation: LabelledTensors
    mean: float
    std: float
    data_hash: str
    cache_key: str

    @property
    def test(self) -> LabelledTensors:
        raise UserError(f"{self.dataset}: techniques never see the test split (use train, or validation to choose)")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean


@dataclass
class FeatureSet:
    dataset: str
    class_names: list[str]
    params: FeatureParams
    train: LabelledTensors
    validation: LabelledTensors
    test: LabelledTensors
    mean: float
    std: float
    data_hash: str
    cache_key: str
    subset_note: str | None = None
    skipped: list[str] = field(default_factory=list)
    from_cache: bool = False

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    def split(self, name: str) -> LabelledTensors:
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]

    def split_sizes(self) -> dict[str, int]:
        return {name: len(self.split(name)) for name in SPLITS}

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean

    def training_splits(self) -> TrainingSplits:
        """The view a technique gets: everything but the test split (tensors shared, not copied)."""
        return TrainingSplits(
            self.dataset,
            self.class_names,
            self.params,
            self.train,
            self.validation,
            self.mean,
            self.std,
            self.data_hash,
            self.cache_key,
        )


def data_hash(adapter: DatasetAdapter, index: ClipIndex, workers: int = 1) -> str:
    """Hash of what the dataset *is*: every clip's bytes, label and split (options for generated data)."""
    contents = _in_threads(
        lambda clip: sha256_file(clip.source) if clip.source is not None else None, index.clips, workers
    )
    entries = [[clip.key, clip.split, clip.label, content] for clip, content in zip(index.clips, contents, strict=True)]
    return sha256_json(
        {
            "dataset": adapter.name,
            "classes": index.class_names,
            "clips": entries,
            "options": adapter.describe_options() if index.clips[0].source is None else None,
        }
    )


def load_feature_set(
    adapter: DatasetAdapter,
    params: FeatureParams,
    cache_dir: Path | None,
    *,
    skip_bad: bool = False,
    progress: bool = False,
    workers: int = 1,
) -> FeatureSet:
    """Return the dataset's log-mel features, from the cache when its key matches, else extracted.
    ``workers`` threads read, resample and hash the files; the result does not depend on their number.
    One by default: on the 2-core reference machine two were slower (FSDD 3,269 vs 2,020 clips/s,
    benchmarks/README.md), as reading small files is mostly GIL-bound Python."""
    index = adapter.index()
    digest = data_hash(adapter, index, workers)
    key = sha256_json(
        {"data": digest, "features": dataclasses.asdict(params), "version": FEATURES_VERSION, "skip_bad": skip_bad}
    )
    path = cache_dir / "features" / f"{adapter.name}-{key[:16]}.safetensors" if cache_dir else None
    if path is not None and path.is_file():
        cached = _read_cache(path, params)
        if cached is not None:
            cached.from_cache = True
            return cached
    raw, skipped = _extract(adapter, index, params, skip_bad, progress, workers)
    train_x = raw["train"][0]
    mean, std = float(train_x.mean()), float(train_x.std())
    meta = {
        "dataset": adapter.name,
        "class_names": index.class_names,
        "params": dataclasses.asdict(params),
        "mean": mean,
        "std": std,
        "data_hash": digest,
        "cache_key": key,
        "subset_note": index.subset_note,
        "skipped": skipped,
    }
    if path is not None:
        tensors = {}
        for split, (x, y) in raw.items():
            tensors[f"{split}_x"], tensors[f"{split}_y"] = x.contiguous(), y.contiguous()
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"meta": json.dumps(meta)})
    return _assemble(meta, {s: pair for s, pair in raw.items()}, params)


def _extract(
    adapter: DatasetAdapter, index: ClipIndex, params: FeatureParams, skip_bad: bool, progress: bool, workers: int
) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], list[str]]:
    logmel = LogMel(params)
    waves: dict[str, list[torch.Tensor]] = {s: [] for s in SPLITS}
    labels: dict[str, list[int]] = {s: [] for s in SPLITS}
    skipped: list[str] = []

    def read(clip) -> torch.Tensor | DataError:
        try:
            return logmel.fix_length(*adapter.read(clip))
        except DataError as exc:
            return exc

    loaded = zip(index.clips, _in_threads(read, index.clips, workers), strict=True)
    with progress_bar(loaded, f"features {adapter.name}", progress, length=len(index.clips)) as bar:
        for clip, wave in bar:
            if isinstance(wave, DataError):
                if not skip_bad:
                    raise DataError(f"{wave} (pass --skip-bad to skip unreadable files)") from wave
                skipped.append(str(clip.source or clip.key))
                continue
            waves[clip.split].append(wave)
            labels[clip.split].append(clip.label)
    if skipped:
        print(f"{adapter.name}: skipped {len(skipped)} unreadable file(s)", file=sys.stderr)
    raw = {}
    for split in SPLITS:
        if not waves[split]:
            raise DataError(f"{adapter.name}: no readable clips in the {split} split")
        stacked = torch.stack(waves[split])
        x = torch.cat([logmel(chunk) for chunk in stacked.split(_BATCH)])
        raw[split] = (x, torch.tensor(labels[split], dtype=torch.int64))
    present = {label for label in labels["train"]}
    missing = [index.class_names[i] for i in range(len(index.class_names)) if i not in present]
    if missing:
        raise DataError(f"{adapter.name}: class(es) {', '.join(missing)} lost every training clip")
    return raw, skipped


def _read_cache(path: Path, params: FeatureParams) -> FeatureSet | None:
    try:
        with safetensors.safe_open(str(path), framework="pt") as handle:
            meta = json.loads((handle.metadata() or {})["meta"])
        tensors = load_file(str(path))
        raw = {s: (tensors[f"{s}_x"], tensors[f"{s}_y"]) for s in SPLITS}
    except (OSError, KeyError, ValueError, safetensors.SafetensorError) as exc:
        print(f"warning: ignoring unreadable feature cache {path} ({exc}); re-extracting", file=sys.stderr)
        return None
    return _assemble(meta, raw, params)


def _assemble(meta: dict, raw: dict[str, tuple[torch.Tensor, torch.Tensor]], params: FeatureParams) -> FeatureSet:
    mean, std = meta["mean"], meta["std"]
    std = std if std > 0 else 1.0
    splits = {s: LabelledTensors((x - mean) / std, y) for s, (x, y) in raw.items()}
    return FeatureSet(
        dataset=meta["dataset"],
        class_names=meta["class_names"],
        params=params,
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        mean=mean,
        std=std,
        data_hash=meta["data_hash"],
        cache_key=meta["cache_key"],
        subset_note=meta["subset_note"],
        skipped=meta["skipped"],
    )


def find_cached_features(cache_roots: list[Path], cache_key: str) -> FeatureSet | None:
    """A cached feature set by its key, wherever it lies under ``cache_roots`` (no data root needed):
    how the leaderboard renders sample sounds from a set's recorded ``feature_key``."""
    for root in cache_roots:
        for path in sorted(root.rglob(f"features/*-{cache_key[:16]}.safetensors")):
            try:
                with safetensors.safe_open(str(path), framework="pt") as handle:
                    meta = json.loads((handle.metadata() or {})["meta"])
            except (OSError, KeyError, ValueError, safetensors.SafetensorError):
                continue
            if meta.get("cache_key") == cache_key:
                return _read_cache(path, FeatureParams(**meta["params"]))
    return None
