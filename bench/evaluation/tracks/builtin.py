"""Importing this module registers every built-in track."""

from bench.evaluation.tracks import convnet, cross_arch, prototype  # noqa: F401
