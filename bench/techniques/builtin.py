"""Importing this module registers every built-in technique."""

from bench.techniques import coresets, dm, gradient_matching, idm, inversion, mtt, rded, waveform_dm  # noqa: F401
