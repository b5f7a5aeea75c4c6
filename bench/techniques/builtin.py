"""Importing this module registers every built-in technique."""

from bench.techniques import coresets, dm, gradient_matching, inversion, mtt, rded  # noqa: F401
