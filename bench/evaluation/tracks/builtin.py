"""Importing this module registers every built-in track."""

from bench.evaluation.tracks import convnet, cross_arch, kd, kd_own_labels, nearest_mean, probe, shift  # noqa: F401
