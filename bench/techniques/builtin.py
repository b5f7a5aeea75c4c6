"""Importing this module registers every built-in technique."""

from bench.techniques import (  # noqa: F401
    coresets,
    datm,
    dm,
    gradient_matching,
    idc,
    idm,
    inversion,
    mtt,
    rded,
    waveform_dm,
)
