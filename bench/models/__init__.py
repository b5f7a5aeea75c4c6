"""Networks for distillation and evaluation: one registry, built from a :class:`ModelSpec`."""

from bench.models.base import ModelFamily, ModelSpec, Network
from bench.models.registry import MODELS, model_names, register_model


def build_model(spec: ModelSpec, in_shape: tuple[int, ...], num_classes: int, seed: int) -> Network:
    """The network ``spec`` describes, initialised from ``seed`` alone."""
    return spec.build(in_shape, num_classes, seed)


__all__ = ["MODELS", "ModelFamily", "ModelSpec", "Network", "build_model", "model_names", "register_model"]
