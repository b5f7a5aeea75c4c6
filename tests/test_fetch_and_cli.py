"""`distrack datasets fetch` (download, verify, unpack) and the CLI surface."""

import hashlib
import tarfile

import pytest
from click.testing import CliRunner

from bench.cli import cli


def _fsdd_archive(tmp_path, write_audio):
    source = tmp_path / "src" / "fsdd-release"
    for digit in range(10):
        for n in range(11):
            write_audio(source / "recordings" / f"{digit}_bob_{n}.wav", seconds=0.05)
    archive = tmp_path / "fsdd-release.tar.gz"
    with tarfile.open(archive, "w:gz") as handle:
        handle.add(source, arcname="fsdd-release")
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


def _fetch(tmp_path, *extra):
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    params = tmp_path / "params.yaml"
    params.write_text("datasets:\n  fsdd: {dir: fsdd}\n")
    return CliRunner().invoke(
        cli, ["--params", str(params), "--data-root", str(root), "-q", "datasets", "fetch", "fsdd", *extra]
    ), root


def test_fetch_verifies_and_unpacks(tmp_path, write_audio, monkeypatch):
    archive, digest = _fsdd_archive(tmp_path, write_audio)
    from bench.data.adapters.fsdd import Fsdd

    monkeypatch.setattr(Fsdd, "info", Fsdd.info.__class__(**{**Fsdd.info.__dict__, "archive_dir": "fsdd-release"}))
    result, root = _fetch(tmp_path, "--url", archive.as_uri(), "--sha256", digest)
    assert result.exit_code == 0, result.output
    assert "fsdd: 110 clips, 10 classes" in result.output
    assert (root / "fsdd" / "recordings" / "3_bob_4.wav").is_file()
    again, _ = _fetch(tmp_path)  # present: verified offline, nothing downloaded
    assert again.exit_code == 0 and "110 clips" in again.output


def test_fetch_refuses_a_checksum_mismatch(tmp_path, write_audio):
    archive, _ = _fsdd_archive(tmp_path, write_audio)
    result, root = _fetch(tmp_path, "--url", archive.as_uri(), "--sha256", "0" * 64)
    assert result.exit_code == 2 and "sha256 mismatch" in result.output
    assert not (root / "fsdd").exists()


def test_fetch_refuses_an_unpinned_archive_unless_told(tmp_path, write_audio):
    archive, digest = _fsdd_archive(tmp_path, write_audio)
    result, root = _fetch(tmp_path, "--url", archive.as_uri())
    assert result.exit_code == 2 and f"has sha256 {digest}" in result.output
    assert not (root / "fsdd").exists()


def _pin(monkeypatch, **fields):
    from bench.data.adapters.fsdd import Fsdd

    monkeypatch.setattr(Fsdd, "info", Fsdd.info.__class__(**{**Fsdd.info.__dict__, **fields}))


def test_a_pinned_md5_is_checked_and_extra_archives_join_the_same_folder(tmp_path, write_audio, monkeypatch):
    archive, _ = _fsdd_archive(tmp_path, write_audio)
    extra_source = tmp_path / "meta-src" / "fsdd-release" / "metadata"
    extra_source.mkdir(parents=True)
    (extra_source / "speakers.csv").write_text("speaker\nbob\n")
    extra = tmp_path / "metadata.tar.gz"
    with tarfile.open(extra, "w:gz") as handle:
        handle.add(extra_source, arcname="metadata")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    sha1 = hashlib.sha1(extra.read_bytes()).hexdigest()
    pins = {
        "url": archive.as_uri(),
        "archive_dir": "fsdd-release",
        "extra_archives": ((extra.as_uri(), f"sha1:{sha1}"),),
    }
    _pin(monkeypatch, **pins, checksum=f"md5:{'0' * 32}")
    result, root = _fetch(tmp_path)
    assert (
        result.exit_code == 2
        and f"md5 mismatch for {archive.as_uri()}: expected {'0' * 32}, got {md5}" in result.output
    )
    assert not (root / "fsdd").exists()
    _pin(monkeypatch, **pins, checksum=f"md5:{md5.upper()}")
    result, root = _fetch(tmp_path)
    assert result.exit_code == 0, result.output
    assert (root / "fsdd" / "metadata" / "speakers.csv").is_file() and "110 clips" in result.output


@pytest.mark.parametrize(
    ("checksum", "message"),
    [("crc32:abcd", "unknown checksum algorithm 'crc32'"), ("sha1:abc", "a sha1 digest is 40 hex digits")],
)
def test_a_malformed_pin_is_refused_by_name(tmp_path, write_audio, monkeypatch, checksum, message):
    archive, _ = _fsdd_archive(tmp_path, write_audio)
    _pin(monkeypatch, url=archive.as_uri(), archive_dir="fsdd-release", checksum=checksum)
    result, _ = _fetch(tmp_path)
    assert result.exit_code == 2 and f"fsdd: checksum: {message}" in result.output


def test_every_official_archive_with_a_published_digest_is_pinned():
    from bench.data.fetch import parse_checksum
    from bench.data.registry import dataset_names, get_dataset

    pinned = {name for name in dataset_names() if get_dataset(name).info.checksum}
    assert pinned >= {"esc50", "fma_small", "gtzan", "speechcommands", "urbansound8k"}
    for name in pinned:
        info = get_dataset(name).info
        for _, checksum in ((info.url, info.checksum), *info.extra_archives):
            parse_checksum(checksum, name)


def test_fetch_offline_error_is_clear(tmp_path):
    result, _ = _fetch(tmp_path, "--url", (tmp_path / "nope.tar.gz").as_uri(), "--sha256", "0" * 64)
    assert result.exit_code == 2 and "cannot download" in result.output


@pytest.mark.parametrize(
    "command", [[], ["datasets"], ["datasets", "list"], ["datasets", "fetch"], ["features"], ["evaluate"], ["invert"]]
)
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage: distrack" in result.output and len(result.output.splitlines()) > 4


def test_datasets_list_shows_presence_classes_and_counts(data_root):
    from tests.conftest import REPO

    result = CliRunner().invoke(
        cli, ["--params", str(REPO / "params.yaml"), "--data-root", str(data_root), "datasets", "list"]
    )
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()[2:] if line.strip()}
    assert rows["fsdd"].split()[1] == "yes" and "2400" in rows["fsdd"]
    assert rows["esc10"].split()[1] == "yes" and "Dog bark" in rows["esc10"]
    assert rows["speechcommands"].split()[1] == "yes"
    assert rows["gtzan"].split()[1] == "no"
