"""The submission bundle: a folder a contributor hands over with their pull request.

    <bundle>/bundle.json                                    the manifest (this module reads and writes it)
    <bundle>/sets/<profile>/<dataset>/<technique>/<cell>.safetensors   the distilled sets (safetensors only)
    <bundle>/records/<profile>/<dataset>/<technique>/<cell>.json       the records, marked ``self-reported``

The manifest pins every set by sha256, so a set changed after submission is refused by ``distrack verify``.
Everything is JSON or safetensors: nothing in a bundle is ever unpickled."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.atomic import write_json_atomic
from bench.errors import UserError

MANIFEST = "bundle.json"
BUNDLE_VERSION = 1
SELF_REPORTED = "self-reported"
VERIFIED = "verified"
METADATA_FIELDS = ("paper", "code_url", "licence")


@dataclass(frozen=True)
class Entry:
    dataset: str
    ipc: int
    seed: int
    set: str  # path relative to the bundle
    set_sha256: str
    record: str  # path relative to the bundle


@dataclass
class Manifest:
    technique: str
    profile: str
    metadata: dict[str, str]
    suite: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)
    bundle_version: int = BUNDLE_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def write_manifest(bundle: Path, manifest: Manifest) -> Path:
    path = bundle / MANIFEST
    write_json_atomic(path, manifest.to_json())
    return path


def _require(payload: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in payload:
        raise UserError(f"{where}: missing field {key!r}")
    value = payload[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise UserError(f"{where}: field {key!r} has the wrong type ({type(value).__name__})")
    return value


def inside(bundle: Path, relative: str, where: str) -> Path:
    """``bundle / relative``, refusing absolute paths and ``..`` escapes."""
    candidate = (bundle / relative).resolve()
    if Path(relative).is_absolute() or not candidate.is_relative_to(bundle.resolve()):
        raise UserError(f"{where}: path {relative!r} points outside the bundle")
    return candidate


def read_manifest(bundle: Path) -> Manifest:
    path = bundle / MANIFEST
    if not path.is_file():
        raise UserError(f"{bundle}: not a submission bundle (no {MANIFEST}); create one with `distrack submit`")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(payload, dict):
        raise UserError(f"{path}: expected a JSON object")
    version = _require(payload, "bundle_version", int, str(path))
    if version != BUNDLE_VERSION:
        raise UserError(f"{path}: bundle_version {version} is not supported (this suite reads {BUNDLE_VERSION})")
    metadata = _require(payload, "metadata", dict, str(path))
    for key in METADATA_FIELDS:
        _require(metadata, key, str, f"{path} metadata")
    entries = []
    for index, raw in enumerate(_require(payload, "entries", list, str(path))):
        where = f"{path} entries[{index}]"
        if not isinstance(raw, dict):
            raise UserError(f"{where}: expected an object")
        entry = Entry(
            dataset=_require(raw, "dataset", str, where),
            ipc=_require(raw, "ipc", int, where),
            seed=_require(raw, "seed", int, where),
            set=_require(raw, "set", str, where),
            set_sha256=_require(raw, "set_sha256", str, where),
            record=_require(raw, "record", str, where),
        )
        inside(bundle, entry.set, where)
        inside(bundle, entry.record, where)
        entries.append(entry)
    if not entries:
        raise UserError(f"{path}: the bundle has no entries")
    return Manifest(
        technique=_require(payload, "technique", str, str(path)),
        profile=_require(payload, "profile", str, str(path)),
        metadata={k: str(v) for k, v in metadata.items()},
        suite=_require(payload, "suite", dict, str(path)),
        entries=entries,
    )
