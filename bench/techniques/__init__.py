"""Distillation techniques: one registry, built-ins plus plug-ins from the ``distrackted.techniques``
entry-point group."""

from bench.techniques.base import Budget, DistillContext, DistilledSet, Technique
from bench.techniques.registry import get_technique, register_technique, technique_names

__all__ = [
    "Budget",
    "DistillContext",
    "DistilledSet",
    "Technique",
    "get_technique",
    "register_technique",
    "technique_names",
]
