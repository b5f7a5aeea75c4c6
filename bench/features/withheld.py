"""The view a data-free technique gets of a dataset: its feature space (classes, item shape, normalisation,
which features a teacher was trained on) with the training and validation splits withheld. Reading either
split is an error, so a technique that claims to be data-free cannot read real data by accident."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from bench.errors import UserError
from bench.features.store import FeatureSet, TrainingSplits
from bench.params import FeatureParams


class WithheldSplit:
    """Stands where a split's tensors would be; any use of it raises."""

    def __init__(self, dataset: str, split: str) -> None:
        self._where = f"{dataset} {split} split"

    def _refuse(self, what: str) -> NoReturn:
        raise UserError(f"a data-free technique read the {self._where} ({what}); it may use its teacher only")

    def __getattr__(self, name: str) -> Any:
        self._refuse(name)

    def __len__(self) -> int:
        self._refuse("len")


@dataclass
class WithheldSplits(TrainingSplits):
    item_shape: tuple[int, ...] = ()

    @property
    def shape(self) -> tuple[int, ...]:
        return self.item_shape


def withheld_splits(
    dataset: str,
    class_names: list[str],
    params: FeatureParams,
    shape: tuple[int, ...],
    mean: float,
    std: float,
    data_hash: str,
    cache_key: str,
) -> WithheldSplits:
    train, validation = WithheldSplit(dataset, "train"), WithheldSplit(dataset, "validation")
    return WithheldSplits(
        dataset, list(class_names), params, train, validation, mean, std, data_hash, cache_key, tuple(shape)
    )  # type: ignore[arg-type]


def withhold(source: FeatureSet | TrainingSplits) -> WithheldSplits:
    """``source``'s feature space with its data withheld (an already withheld view is returned as it is)."""
    if isinstance(source, WithheldSplits):
        return source
    return withheld_splits(
        source.dataset,
        source.class_names,
        source.params,
        source.shape,
        source.mean,
        source.std,
        source.data_hash,
        source.cache_key,
    )
