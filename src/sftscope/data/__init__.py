"""Data sources registered by name."""

from ..core.registry import DATA_SOURCES

DATA_SOURCES.register("countdown", "sftscope.data.countdown:build_rows", kind="solver", description="Countdown long-CoT traces from an exact solver")
DATA_SOURCES.register("reasoning_gym", "sftscope.data.rgym:build_rows", kind="generator", description="any reasoning-gym task, verified by its own scorer")
DATA_SOURCES.register("hf", "sftscope.data.hf_source:build_rows", kind="dataset", description="an HF dataset id or local file with a column mapping")

DATA_SOURCES.register("distill", "sftscope.data.distill:build_source_rows", kind="teacher", description="a teacher sampled N times per question, kept when math-verify agrees (data.distill section)")
