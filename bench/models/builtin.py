"""Importing this module registers every built-in network family."""

from bench.models import convnet, mlp, resnet, temporal, xvector  # noqa: F401
