"""``distrack artefacts build KIND --dataset D``: the trained things results depend on but that are not sets
(a teacher, MTT's expert trajectories), built once per dataset and profile into the cache, content-keyed. One
verb for every kind, so a DVC stage per kind is one line and a new kind is one entry of ``BUILDERS``.
``--for-grid`` (what dvc.yaml passes) builds only what the params' grid reads, so a grid without a teacher-reading
technique or track trains no teacher, and one without trajectory matching trains no experts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from bench.artefacts.teacher_index import publish_teacher, teacher_selector
from bench.artefacts.teachers import TeacherParams
from bench.cli.context import pass_session
from bench.evaluation.tracks import get_track
from bench.evaluation.tracks.configure import build_track
from bench.evaluation.tracks.kd import KnowledgeDistillationTrack
from bench.params import load_params
from bench.pipeline.grid import Grid, load_grid
from bench.session import Session
from bench.techniques.configure import build_technique
from bench.techniques.data_free import DataFreeTechnique
from bench.techniques.mtt import TrajectoryMatching
from bench.techniques.registry import get_technique, technique_names
from bench.techniques.teacher_guided import TeacherGuidedTechnique


def _techniques(grid: Grid | None) -> list[str]:
    return technique_names() if grid is None else [name for name in technique_names() if name in grid.techniques]


def teacher_settings(session: Session, dataset: str, grid: Grid | None = None) -> list[TeacherParams]:
    """The teachers this session's params ask for: the kd track's and every data-free or teacher-guided
    technique's (once each); with ``grid``, only those its techniques and tracks read."""
    wanted = []
    if grid is None or any("teacher" in get_track(name).requires for name in grid.tracks):
        kd = build_track(session, "kd", dataset=dataset)
        assert isinstance(kd, KnowledgeDistillationTrack)
        wanted.append(kd.teacher_params)
    for name in _techniques(grid):
        method = build_technique(session, name, dataset=dataset)
        if isinstance(method, DataFreeTechnique | TeacherGuidedTechnique):
            wanted.append(method.teacher_params)
    profile, feature_params = session.profile, session.profile.features_for(dataset)
    unique: dict[str, TeacherParams] = {}
    for params in wanted:
        selector = teacher_selector(dataset, feature_params, params, profile.model, profile.protocol, session.device)
        unique.setdefault(selector, params)
    return list(unique.values())


def build_teachers(session: Session, dataset: str, grid: Grid | None = None) -> list[str]:
    settings = teacher_settings(session, dataset, grid)
    if not settings:
        return [_nothing_needed(session.cache_dir / "artefacts", "no technique or track that reads a teacher")]
    features, profile = session.features(dataset), session.profile
    lines = []
    for params in settings:
        teacher = publish_teacher(features, params, profile.model, profile.protocol, session.device, session.cache_dir)
        described = teacher.description
        lines.append(
            f"teacher {teacher.spec.describe()['architecture']} ({'trained' if teacher.built else 'stored'}): "
            f"test accuracy {described['test_accuracy']:.3f}, lr {described['lr']} chosen on validation, "
            f"{described['key'][:12]}"
        )
    return lines


def build_experts(session: Session, dataset: str, pairs: tuple[str, ...] = (), grid: Grid | None = None) -> list[str]:
    """Every trajectory-matching technique's experts (mtt's, datm's; with ``grid``, those of its techniques),
    each expert setting once: techniques whose expert params agree share one content-keyed folder, and a folder
    already complete is only read."""
    names = [name for name in _techniques(grid) if issubclass(get_technique(name), TrajectoryMatching)]
    if not names:
        return [_nothing_needed(session.cache_dir / "experts", "no trajectory-matching technique")]
    features, lines = session.features(dataset), {}
    for name in names:
        method = build_technique(session, name, pairs, dataset)
        assert isinstance(method, TrajectoryMatching)
        store = method.expert_store(features, session.device, session.progress)
        lines.setdefault(
            store.folder, f"{len(store.paths())} expert(s), {store.num_epochs()} epochs each, in {store.folder}"
        )
    return list(lines.values())


def _nothing_needed(folder: Path, why: str) -> str:
    """The folder a DVC stage declares as its output, made even when the grid needs nothing in it."""
    folder.mkdir(parents=True, exist_ok=True)
    return f"the grid has {why}: nothing to build ({folder} left as it is)"


BUILDERS: dict[str, Callable[..., list[str]]] = {"teacher": build_teachers, "experts": build_experts}


@click.group()
def artefacts() -> None:
    """Trained artefacts results depend on (teachers, MTT experts), cached and content-keyed."""


@artefacts.command()
@click.argument("kind", type=click.Choice(sorted(BUILDERS)))
@click.option("--dataset", "-d", required=True, help="Dataset whose training split the artefact learns from.")
@click.option(
    "--for-grid",
    is_flag=True,
    help="Only what the params' grid reads: the teachers of its techniques and of its teacher-reading tracks "
    "(kd), the experts of its trajectory-matching techniques; none when it reads none (the cache folder is still "
    "made, as a DVC stage's output). dvc.yaml passes it.",
)
@pass_session
def build(session: Session, kind: str, dataset: str, for_grid: bool) -> None:
    """Train (or find stored) the KIND artefacts of DATASET: every teacher the params ask for (the kd track's,
    each data-free technique's; published for data-free use), or the expert trajectories of every trajectory-matching
    technique (mtt, datm)."""
    grid = load_grid(load_params(session.params_file)) if for_grid else None
    for line in BUILDERS[kind](session, dataset, grid=grid):
        click.echo(line)
