"""Networks used for distillation and evaluation."""

from bench.models.convnet import ConvNet, build_convnet

__all__ = ["ConvNet", "build_convnet"]
