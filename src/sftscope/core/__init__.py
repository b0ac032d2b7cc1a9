"""Shared pieces every stage may use: config, registry, records, io, run directory, errors."""
