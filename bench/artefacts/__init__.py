"""Trained artefacts a technique or a track needs beyond the data (teachers; MTT's expert trajectories are the
other family and move here at the next re-derivation of the board), each built once per content key."""
