"""The ``distrack`` command line."""

from bench.cli.main import cli

__all__ = ["cli"]
