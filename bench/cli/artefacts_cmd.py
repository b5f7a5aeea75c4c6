"""``distrack artefacts build KIND --dataset D``: the trained things results depend on but that are not sets
(a teacher, MTT's expert trajectories), built once per dataset and profile into the cache, content-keyed. One
verb for every kind, so a DVC stage per kind is one line and a new kind is one entry of ``BUILDERS``."""

from __future__ import annotations

from collections.abc import Callable

import click

from bench.artefacts.teacher_index import publish_teacher, teacher_selector
from bench.artefacts.teachers import TeacherParams
from bench.cli.context import pass_session
from bench.evaluation.tracks.configure import build_track
from bench.evaluation.tracks.kd import KnowledgeDistillationTrack
from bench.session import Session
from bench.techniques.configure import build_technique
from bench.techniques.data_free import DataFreeTechnique
from bench.techniques.mtt import TrajectoryMatching
from bench.techniques.registry import get_technique, technique_names
from bench.techniques.teacher_guided import TeacherGuidedTechnique


def teacher_settings(session: Session, dataset: str) -> list[TeacherParams]:
    """The teachers this session's params ask for: the kd track's and every data-free or teacher-guided
    technique's (once each)."""
    kd = build_track(session, "kd", dataset=dataset)
    assert isinstance(kd, KnowledgeDistillationTrack)
    wanted = [kd.teacher_params]
    for name in technique_names():
        method = build_technique(session, name, dataset=dataset)
        if isinstance(method, DataFreeTechnique | TeacherGuidedTechnique):
            wanted.append(method.teacher_params)
    profile, feature_params = session.profile, session.profile.features_for(dataset)
    unique: dict[str, TeacherParams] = {}
    for params in wanted:
        selector = teacher_selector(dataset, feature_params, params, profile.model, profile.protocol, session.device)
        unique.setdefault(selector, params)
    return list(unique.values())


def build_teachers(session: Session, dataset: str) -> list[str]:
    features, profile = session.features(dataset), session.profile
    lines = []
    for params in teacher_settings(session, dataset):
        teacher = publish_teacher(features, params, profile.model, profile.protocol, session.device, session.cache_dir)
        described = teacher.description
        lines.append(
            f"teacher {teacher.spec.describe()['architecture']} ({'trained' if teacher.built else 'stored'}): "
            f"test accuracy {described['test_accuracy']:.3f}, lr {described['lr']} chosen on validation, "
            f"{described['key'][:12]}"
        )
    return lines


def build_experts(session: Session, dataset: str, pairs: tuple[str, ...] = ()) -> list[str]:
    """Every trajectory-matching technique's experts (mtt's, datm's), each expert setting once: techniques whose
    expert params agree share one content-keyed folder, and a folder already complete is only read."""
    features, lines = session.features(dataset), {}
    for name in technique_names():
        if not issubclass(get_technique(name), TrajectoryMatching):
            continue
        method = build_technique(session, name, pairs, dataset)
        assert isinstance(method, TrajectoryMatching)
        store = method.expert_store(features, session.device, session.progress)
        lines.setdefault(
            store.folder, f"{len(store.paths())} expert(s), {store.num_epochs()} epochs each, in {store.folder}"
        )
    return list(lines.values())


BUILDERS: dict[str, Callable[[Session, str], list[str]]] = {"teacher": build_teachers, "experts": build_experts}


@click.group()
def artefacts() -> None:
    """Trained artefacts results depend on (teachers, MTT experts), cached and content-keyed."""


@artefacts.command()
@click.argument("kind", type=click.Choice(sorted(BUILDERS)))
@click.option("--dataset", "-d", required=True, help="Dataset whose training split the artefact learns from.")
@pass_session
def build(session: Session, kind: str, dataset: str) -> None:
    """Train (or find stored) the KIND artefacts of DATASET: every teacher the params ask for (the kd track's,
    each data-free technique's; published for data-free use), or the expert trajectories of every trajectory-matching
    technique (mtt, datm)."""
    for line in BUILDERS[kind](session, dataset):
        click.echo(line)
