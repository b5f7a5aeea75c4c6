"""A technique ready to run for a session: its params.yaml section resolved and typed, plus its context."""

from __future__ import annotations

from typing import Any

from bench.overrides import component_overrides
from bench.session import Session
from bench.techniques.base import DistillContext, Technique
from bench.techniques.registry import get_technique


def technique_overrides(
    session: Session, technique: str, pairs: tuple[str, ...] = (), dataset: str | None = None
) -> dict[str, Any]:
    return component_overrides(session.params, "techniques", technique, session.profile.name, dataset, pairs)


def build_technique(
    session: Session, name: str, pairs: tuple[str, ...] = (), dataset: str | None = None, **context: Any
) -> Technique:
    cls = get_technique(name)
    params = cls.configure(session.profile.budgets, technique_overrides(session, name, pairs, dataset))
    return cls(params, DistillContext(model=session.profile.model, cache_dir=session.cache_dir, **context))
