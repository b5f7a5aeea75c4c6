"""Built-in dataset adapters; importing this package registers them."""

from bench.data.adapters import (  # noqa: F401
    audiofolder,
    audiomnist,
    cochlscene,
    esc,
    fma,
    fsdd,
    gtzan,
    philharmonia,
    speechcommands,
    synthetic,
    urbansound8k,
    vocalsound,
)
