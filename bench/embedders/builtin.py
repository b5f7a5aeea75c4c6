"""Importing this module registers every built-in embedder."""

from bench.embedders import mfcc, yamnet  # noqa: F401
