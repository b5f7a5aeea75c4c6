"""Audio embedders for transfer-learning probes and zero-shot rows: one registry, built from params."""

from bench.embedders.base import Embedder
from bench.embedders.registry import EMBEDDERS, get_embedder

__all__ = ["EMBEDDERS", "Embedder", "get_embedder"]
