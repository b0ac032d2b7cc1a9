"""Suite-wide settings: no test may touch the network, so hub clients run in offline mode (a hub load
then fails at once with the loaders' "point it at a local file" message instead of waiting on timeouts)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
