"""``distrack datasets fetch``: download an official archive (and any further archives the release ships
apart), verify each against the digest its source publishes (sha256, sha1 or md5), unpack them safely into
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


ALGORITHMS = ("sha256", "sha1", "md5")


def parse_checksum(text: str, where: str) -> tuple[str, str]:
    """``"<algorithm>:<hex>"`` (or a bare sha256 hex digest) -> (algorithm, lower-case hex)."""
    algorithm, _, digest = text.rpartition(":")
    algorithm = algorithm or "sha256"
    size = {"sha256": 64, "sha1": 40, "md5": 32}.get(algorithm)
    if size is None:
        raise UserError(f"{where}: unknown checksum algorithm {algorithm!r} (expected one of {', '.join(ALGORITHMS)})")
    digest = digest.lower()
    if len(digest) != size or any(ch not in "0123456789abcdef" for ch in digest):
        raise UserError(f"{where}: a {algorithm} digest is {size} hex digits, got {text!r}")
    return algorithm, digest


def download(url: str, target: Path, progress: bool) -> dict[str, str]:
    """Stream ``url`` to ``target`` (atomically); return its digest under every algorithm of :data:`ALGORITHMS`."""
    digests = {name: hashlib.new(name) for name in ALGORITHMS}
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
                    for digest in digests.values():
                        digest.update(chunk)
                    out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise DataError(f"cannot download {url}: {exc} (offline? put the dataset under the data root instead)") from exc
    os.replace(partial, target)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def verified_archive(
    name: str, url: str, checksum: str | None, folder: Path, allow_unpinned: bool, progress: bool
) -> Path:
    """Download ``url`` into ``folder`` and check it against ``checksum``; a mismatch deletes it."""
    expected = parse_checksum(checksum, f"{name}: checksum") if checksum is not None else None
    archive = folder / Path(url.split("?")[0]).name
    actual = download(url, archive, progress)
    if expected is None and not allow_unpinned:
        raise UserError(
            f"{name}: downloaded {archive} has sha256 {actual['sha256']}, but no checksum is pinned for it; "
            "check it and re-run with --sha256 <digest> (or --allow-unpinned)"
        )
    if expected is not None and actual[expected[0]] != expected[1]:
        archive.unlink(missing_ok=True)
        raise DataError(f"{name}: {expected[0]} mismatch for {url}: expected {expected[1]}, got {actual[expected[0]]}")
    print(f"{name}: {archive.name} verified (sha256 {actual['sha256']})", file=sys.stderr)
    return archive


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
    if not url:
        raise UserError(f"{info.name}: no download URL is known; place the data at {target}")
    checksum = f"sha256:{sha256}" if sha256 is not None else (info.checksum if url == info.url else None)
    downloads = target.parent / ".downloads"
    archive = verified_archive(info.name, url, checksum, downloads, allow_unpinned, progress)
    extras = [
        verified_archive(info.name, extra_url, extra_checksum, downloads, allow_unpinned, progress)
        for extra_url, extra_checksum in info.extra_archives
    ]
    staging = Path(tempfile.mkdtemp(prefix=f".{info.name}-", dir=target.parent))
    try:
        _extract(archive, staging)
        unpacked = staging / (info.archive_dir or ".")
        if not unpacked.is_dir():
            raise DataError(f"{archive}: expected folder {info.archive_dir!r} inside the archive")
        for extra in extras:
            _extract(extra, unpacked)
        os.replace(unpacked, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    adapter.index()
    print(f"{info.name}: fetched into {target}", file=sys.stderr)
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
