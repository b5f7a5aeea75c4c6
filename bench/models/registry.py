"""The one registry of networks: built-ins plus the ``distrackted.models`` entry-point group."""

from __future__ import annotations

from bench.models.base import ModelFamily
from bench.registry import Registry

MODELS: Registry[type[ModelFamily]] = Registry("model", "distrackted.models", "bench.models.builtin", ModelFamily)
register_model = MODELS.register


def model_names() -> list[str]:
    return MODELS.names()
