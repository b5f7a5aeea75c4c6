"""Labelled sets: the set file format (v2: soft labels, item domain, factorised decoders), decoding a
stored set into training items, and the reference rows (random real subsets, the full training set)."""

from bench.sets.files import LabelledSet, load_set, save_set, tensor_digest

__all__ = ["LabelledSet", "load_set", "save_set", "tensor_digest"]
