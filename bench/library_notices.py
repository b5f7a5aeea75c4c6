"""Library notices that tell a user of this suite nothing, silenced where a command or a grid cell starts.

audiomentations warns each time it resamples a background sound to the clip's rate ("... had to be resampled
... This hurt execution time"). The shift track's background corpus (ESC-10 at 44.1 kHz) is resampled to the
features' rate by design, so a grid printed hundreds of these lines per dataset and buried the notices that
matter, such as a background clip skipped as too silent, which stays visible."""

from __future__ import annotations

import warnings

RESAMPLING_NOTICE_MODULE = r"audiomentations\.core\.audio_loading_utils"  # it warns about nothing else


def silence_expected_notices() -> None:
    warnings.filterwarnings("ignore", category=UserWarning, module=RESAMPLING_NOTICE_MODULE)
