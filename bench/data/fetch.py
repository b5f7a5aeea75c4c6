"""``distrack datasets fetch``: download an official archive, verify its sha256, unpack it safely into
the data root. Offline, an already-present directory is checked and used as it is."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from bench.data.registry import DatasetAdapter
from bench.errors import DataError, UserError
from bench.progress import progress_bar

_CHUNK = 1 << 20


def download(url: str, target: Path, progress: bool) -> str:
    """Stream ``url`` to ``target`` (atomically) and return its sha256."""
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
            length = int(response.headers.get("Content-Length") or 0) or None
            chunks = iter(lambda: response.read(_CHUNK), b"")
            with progress_bar(
                chunks, f"download {target.name}", progress, length=length and -(-length // _CHUNK)
            ) as bar:
                for chunk in bar:
                    digest.update(chunk)
                    out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise DataError(f"cannot download {url}: {exc} (offline? put the dataset under the data root instead)") from exc
    os.replace(partial, target)
    return digest.hexdigest()


def _extract(archive: Path, into: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as handle:
            for member in handle.namelist():
                resolved = (into / member).resolve()
                if not resolved.is_relative_to(into.resolve()):
                    raise DataError(f"{archive}: refusing member {member!r} outside the target folder")
            handle.extractall(into)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as handle:
            handle.extractall(into, filter="data")
    else:
        raise DataError(f"{archive}: neither a tar nor a zip archive")


def fetch(
    adapter: DatasetAdapter,
    *,
    url: str | None = None,
    sha256: str | None = None,
    allow_unpinned: bool = False,
    progress: bool = True,
) -> Path:
    """Make ``adapter.root`` hold the dataset; return it. Already-present data is only indexed."""
    info = adapter.info
    if adapter.root is None:
        raise UserError(f"{info.name}: generated dataset, nothing to fetch")
    target = adapter.root
    if target.is_dir():
        adapter.index()  # proves the layout is readable
        return target
    url = url or info.url
    expected = sha256 if sha256 is not None else (info.sha256 if url == info.url else None)
    if not url:
        raise UserError(f"{info.name}: no download URL is known; place the data at {target}")
    archive = target.parent / ".downloads" / Path(url.split("?")[0]).name
    actual = download(url, archive, progress)
    if expected is None and not allow_unpinned:
        raise UserError(
            f"{info.name}: downloaded {archive} has sha256 {actual}, but no checksum is pinned for it; "
            "check it and re-run with --sha256 <digest> (or --allow-unpinned)"
        )
    if expected is not None and actual != expected:
        archive.unlink(missing_ok=True)
        raise DataError(f"{info.name}: sha256 mismatch for {url}: expected {expected}, got {actual}")
    staging = Path(tempfile.mkdtemp(prefix=f".{info.name}-", dir=target.parent))
    try:
        _extract(archive, staging)
        unpacked = staging / (info.archive_dir or ".")
        if not unpacked.is_dir():
            raise DataError(f"{archive}: expected folder {info.archive_dir!r} inside the archive")
        os.replace(unpacked, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    adapter.index()
    print(f"{info.name}: fetched into {target} (sha256 {actual})", file=sys.stderr)
    return target


def materialise(adapter: DatasetAdapter, target: Path, progress: bool = False, **download: Any) -> Path:
    """Make ``target`` a complete copy of the dataset (the DVC ``fetch`` stage's output): copied from the
    data root when it is there, else downloaded and verified straight into ``target``. Atomic: a copy is
    staged beside ``target`` and renamed into place, so an interrupted fetch leaves no partial folder."""
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if adapter.root is not None and adapter.root.is_dir():
        adapter.index()  # refuse to version a broken dataset
        staging = Path(tempfile.mkdtemp(prefix=f".{adapter.name}-", dir=target.parent))
        try:
            shutil.copytree(adapter.root, staging / "copy", symlinks=False)
            os.replace(staging / "copy", target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target
    return fetch(type(adapter)(target, adapter.options, adapter.limit_per_class), progress=progress, **download)
