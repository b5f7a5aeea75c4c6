"""The fixed evaluation protocol: train fresh networks on a set, score them on the real test split."""
