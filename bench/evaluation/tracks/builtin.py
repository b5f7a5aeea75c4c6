"""Importing this module registers every built-in track."""

from bench.evaluation.tracks import convnet, cross_arch, nearest_mean, probe  # noqa: F401
