"""DisTrackted: a reproducible benchmark suite for audio dataset distillation."""

__version__ = "0.1.0"
