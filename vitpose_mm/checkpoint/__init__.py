"""Checkpoint layouts and conversion (placeholder until the converter lands)."""
