"""Acoustic shift: corruptions of real test audio (with severities) and test-time adaptation."""
