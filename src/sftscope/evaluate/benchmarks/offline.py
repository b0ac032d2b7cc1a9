"""Benchmark specs (to be filled)."""
