"""Log-mel features: extraction, the on-disk cache, and the inverse back to audio."""
