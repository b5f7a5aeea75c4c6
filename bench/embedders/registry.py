"""The one registry of embedders: built-ins plus the ``distrackted.embedders`` entry-point group."""

from __future__ import annotations

from bench.embedders.base import Embedder
from bench.registry import Registry

EMBEDDERS: Registry[type[Embedder]] = Registry("embedder", "distrackted.embedders", "bench.embedders.builtin", Embedder)
get_embedder = EMBEDDERS.get
