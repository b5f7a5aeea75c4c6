"""``distrack verify``: re-evaluate a bundle's distilled sets under the protocol and promote its records
from ``self-reported`` to ``verified`` when the accuracies match within a tolerance.

Refused before any training: a manifest entry pointing outside the bundle, a set whose sha256 differs
from the manifest (changed after submission), a pickle or anything that is not safetensors, wrong item
shapes, labels outside the dataset's classes or not exactly IPC items per class, a record that does not
belong to its set, and records made under another protocol or network than this suite's profile."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.errors import UserError
from bench.evaluation.records import main_summary, read_record, write_record
from bench.evaluation.tracks.configure import build_track
from bench.hashing import sha256_file
from bench.pipeline.grid import GridCell
from bench.pipeline.jobs import describe_set, evaluate_to_record, load_set_for
from bench.provenance import git_commit
from bench.session import Session
from bench.sets.files import LabelledSet
from bench.submission.bundle import VERIFIED, Entry, Manifest, inside, read_manifest


@dataclass
class Verdict:
    entry: Entry
    reported: float
    measured: float
    record: dict[str, Any]

    def matches(self, tolerance: float) -> bool:
        return abs(self.reported - self.measured) <= tolerance


def _checked_set(session: Session, bundle: Path, entry: Entry, where: str) -> LabelledSet:
    path = inside(bundle, entry.set, where)
    if not path.is_file():
        raise UserError(f"{where}: set file {entry.set} is missing")
    actual = sha256_file(path)
    if actual != entry.set_sha256:
        raise UserError(
            f"{path}: sha256 {actual[:16]}... does not match the manifest's {entry.set_sha256[:16]}... "
            "(the set changed after submission); refusing to verify"
        )
    feats = session.features(entry.dataset)
    labelled = load_set_for(session, entry.dataset, path)  # refuses pickles
    counts = torch.bincount(labelled.y, minlength=feats.num_classes).tolist()
    if any(count != entry.ipc for count in counts):
        raise UserError(f"{path}: expected {entry.ipc} item(s) in each class, found {counts}")
    return labelled


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _checked_record(session: Session, bundle: Path, manifest: Manifest, entry: Entry, where: str) -> dict[str, Any]:
    path = inside(bundle, entry.record, where)
    if not path.is_file():
        raise UserError(f"{where}: record {entry.record} is missing")
    record = read_record(path)
    evaluated = record["evaluated_set"]
    convnet = record["results"].get("convnet")
    if convnet is None:
        raise UserError(f"{path}: no results.convnet; a bundle is verified on the convnet track")
    track = build_track(session, "convnet", dataset=entry.dataset)
    checks = {
        "evaluated_set.sha256": (evaluated["sha256"], entry.set_sha256),
        "evaluated_set.technique": (evaluated["technique"], manifest.technique),
        "evaluated_set.ipc": (evaluated["ipc"], entry.ipc),
        "dataset.name": (record["dataset"]["name"], entry.dataset),
        "profile": (record["profile"], session.profile.name),
        "results.convnet.protocol_id": (convnet["protocol_id"], track.protocol()),
        "results.convnet.params": (convnet["params"], _as_json(track.describe()["params"])),
        "results.convnet.model": (convnet["model"], _as_json(track.describe()["model"])),
    }
    for field, (found, expected) in checks.items():
        if found != expected:
            raise UserError(f"{path}: {field} is {found!r}, expected {expected!r}")
    return record


def verify_bundle(session: Session, bundle: Path, tolerance: float) -> tuple[Manifest, list[Verdict]]:
    """Check every entry, then re-evaluate every set; nothing is written here."""
    manifest = read_manifest(bundle)
    if manifest.profile != session.profile.name:
        raise UserError(
            f"{bundle}: submitted under profile {manifest.profile!r}; verify with --profile {manifest.profile}"
        )
    checked = []
    for index, entry in enumerate(manifest.entries):
        where = f"{bundle / 'bundle.json'} entries[{index}]"
        checked.append(
            (
                entry,
                _checked_set(session, bundle, entry, where),
                _checked_record(session, bundle, manifest, entry, where),
            )
        )
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="distrack-verify-") as scratch:
        for index, (entry, labelled, reported) in enumerate(checked):
            evaluated = describe_set(
                labelled, kind="technique", technique=manifest.technique, digest=entry.set_sha256, source=entry.set
            )
            evaluated["params"] = reported["evaluated_set"].get("params", {})
            track = build_track(session, "convnet", dataset=entry.dataset)
            record = evaluate_to_record(
                session, entry.dataset, labelled, Path(scratch) / f"{index}.json", [track], evaluated
            )
            reported_main, measured_main = main_summary(reported, "convnet"), main_summary(record, "convnet")
            assert reported_main is not None and measured_main is not None
            verdicts.append(Verdict(entry, reported_main["mean"], measured_main["mean"], record))
    return manifest, verdicts


def write_verified(manifest: Manifest, verdicts: list[Verdict], tolerance: float, into: Path) -> list[Path]:
    """The re-measured records (not the submitted ones), marked ``verified``, under ``into``."""
    written = []
    for verdict in verdicts:
        record = verdict.record
        record["submission"] = {
            "status": VERIFIED,
            **manifest.metadata,
            "verification": {
                "reported_test_mean": verdict.reported,
                "measured_test_mean": verdict.measured,
                "tolerance": tolerance,
                "verified_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "suite_commit": git_commit() or "unknown",
            },
        }
        entry = verdict.entry
        path = GridCell(entry.dataset, manifest.technique, entry.ipc, entry.seed).record_path(into, manifest.profile)
        write_record(path, record)
        written.append(path)
    return written
