"""sftscope.analyze: the shape of training from a results store or a score CSV.

patterns (dip-and-recovery rule), trajectories (score tables, paired bootstrap), lengths, behaviors
(rule tagger + optional LLM tagger), logprobs (``sftscope probe``), safety, conditions, phenomena (the
study's four claims); ``stage.analyze_store(db_path, out_dir, cfg)`` writes ``analysis/*.json``. See docs/analysis.md.
"""
