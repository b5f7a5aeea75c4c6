"""The one registry of datasets. An adapter reads one official on-disk layout into a :class:`ClipIndex`."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.data.audio import read_audio
from bench.data.clips import Clip, ClipIndex
from bench.errors import DataError, UserError
from bench.registry import Registry
from bench.typed import parse_section


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    default_dir: str | None
    url: str | None = None
    # The archive's digest as its source (or a well-kept loader of the field) publishes it: "<algorithm>:<hex>",
    # algorithm sha256, sha1 or md5 (a bare hex digest is sha256). Every download is also reported as sha256.
    checksum: str | None = None
    archive_dir: str | None = None  # folder inside the downloaded archive that becomes ``default_dir``
    # Further archives unpacked into the same folder, (url, checksum) each: releases that ship audio and
    # metadata apart (FMA)
    extra_archives: tuple[tuple[str, str], ...] = ()
    licence: str = ""


@dataclass(frozen=True)
class NoOptions:
    pass


class DatasetAdapter(abc.ABC):
    """Reads one dataset layout. Subclasses set ``info`` and ``Options`` and implement :meth:`scan`."""

    info: ClassVar[DatasetInfo]
    Options: ClassVar[type] = NoOptions

    def __init__(self, root: Path | None, options: Any = None, limit_per_class: int | None = None) -> None:
        self.root = root
        self.options = options if options is not None else self.Options()
        self.limit_per_class = limit_per_class
        self.ignored: dict[str, int] = {}  # files the last scan passed over, by reason

    @classmethod
    def from_config(cls, data_root: Path | None, config: Mapping[str, Any] | None) -> DatasetAdapter:
        """``config`` is the dataset's section of params.yaml: ``dir``, the optional ``limit_per_class``
        (a tiny real subset for smoke runs) and the adapter's own options."""
        config = dict(config or {})
        directory = config.pop("dir", cls.info.default_dir)
        limit = config.pop("limit_per_class", None)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise UserError(f"datasets.{cls.info.name}.limit_per_class: expected a positive integer, got {limit!r}")
        options = parse_section(cls.Options, config, f"datasets.{cls.info.name}")
        root = None
        if directory is not None:
            root = Path(directory)
            if not root.is_absolute():
                if data_root is None:
                    raise UserError(f"{cls.info.name}: no data root set; pass --data-root or set DISTRACK_DATA_ROOT")
                root = data_root / root
        return cls(root, options, limit)

    @property
    def name(self) -> str:
        return self.info.name

    def is_present(self) -> bool:
        return self.root is None or self.root.is_dir()

    def require_root(self) -> Path:
        if self.root is None:
            raise DataError(f"{self.name}: this dataset has no directory")
        if not self.root.is_dir():
            raise DataError(
                f"{self.name}: dataset directory {self.root} not found "
                f"(run `distrack datasets fetch {self.name}` or point --data-root / datasets.{self.name}.dir at it)"
            )
        return self.root

    def ignore(self, reason: str) -> None:
        """Count a file the scan passes over (wrong extension, unexpected name ...), so it is reported."""
        self.ignored[reason] = self.ignored.get(reason, 0) + 1

    def ignored_summary(self) -> str:
        return "; ".join(f"{count} {reason}" for reason, count in sorted(self.ignored.items()))

    def index(self) -> ClipIndex:
        """Scan the layout and check the split is sound."""
        self.ignored = {}
        index = self.scan()
        if not index.clips and self.ignored:
            raise DataError(f"{self.name}: no clips found under {self.root}; files ignored: {self.ignored_summary()}")
        if self.limit_per_class is not None:
            index = index.limited(self.limit_per_class)
        index.validate()
        return index

    @abc.abstractmethod
    def scan(self) -> ClipIndex: ...

    def read(self, clip: Clip) -> tuple[np.ndarray, int]:
        assert clip.source is not None
        return read_audio(clip.source)

    def describe_options(self) -> dict[str, Any]:
        described = dataclasses.asdict(self.options)
        if self.limit_per_class is not None:
            described["limit_per_class"] = self.limit_per_class
        return described


DATASETS: Registry[type[DatasetAdapter]] = Registry(
    "dataset", "distrackted.datasets", "bench.data.adapters", DatasetAdapter, key=lambda cls: cls.info.name
)
register_dataset = DATASETS.register
get_dataset = DATASETS.get


def dataset_names() -> list[str]:
    return DATASETS.names()


def open_dataset(name: str, data_root: Path | None, params: Mapping[str, Any]) -> DatasetAdapter:
    """The adapter for ``name`` configured from params.yaml's ``datasets.<name>`` section."""
    section = (params.get("datasets") or {}).get(name)
    return get_dataset(name).from_config(data_root, section)
