"""Real pretrained models that sftscope can prepare offline (registered in ``core.registry.MODELS``).

Each module exposes a ``model_dir()`` that returns a local HF-format folder; the registry line lives in
``organism/__init__.py`` so ``train.model: organism:<name>`` resolves it like the organism's own bases.
"""
