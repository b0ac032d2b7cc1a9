"""Generation backends (hf, vllm, openai) and executors (local, ray), imported lazily by name."""
