"""Sandbox for model-written code: a supervisor process with OS-level limits and isolation layers."""
