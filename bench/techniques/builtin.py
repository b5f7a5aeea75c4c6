"""Importing this module registers every built-in technique."""

from bench.techniques import (  # noqa: F401
    coresets,
    datm,
    datm_soft,
    dm,
    gradient_matching,
    idc,
    idm,
    inversion,
    mtt,
    mtt_lean,
    rded,
    waveform_dm,
)
