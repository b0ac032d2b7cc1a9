#!/usr/bin/env bash
# GPU training-throughput check and the train GPU tests, run once on a CUDA machine (one H100/H200; < 8 minutes).
#
#   bash benchmarks/gpu_train.sh            # results in $OUT (or benchmarks/out): train_throughput.{json,log}
#
# The device image has torch + transformers (+ accelerate, peft, pyarrow, pandas) but not trl, datasets or
# liger_kernel: the wheels in .whl/ (pure Python, and pydantic_core for cp312; see docs/training.md) are installed
# offline into /tmp/site. flash_attn is used when present.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-benchmarks/out}"
mkdir -p "$OUT_DIR"

if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 - <<'PY'
import importlib.util, torch, transformers
have = {m: importlib.util.find_spec(m) is not None for m in ("trl", "datasets", "liger_kernel", "flash_attn")}
print(f"torch {torch.__version__} (cuda {torch.version.cuda}), transformers {transformers.__version__}, {have}")
PY

# 64 sequences of 1k-8k tokens (~220k tokens) per configuration; all three configurations in one process.
timeout 400 python3 benchmarks/train_throughput.py --sequences 64 --json "$OUT_DIR/train_throughput.json" \
  2>&1 | tee "$OUT_DIR/train_throughput.log" || echo "benchmark exited with an error (see the log); the JSON keeps what it measured"

# The train stage's GPU tests (memory probe of gradient_checkpointing: auto; FSDP2 skips on one GPU).
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/train/test_memory_gpu.py tests/train/test_fsdp_gpu.py \
  2>&1 | tail -15 | tee "$OUT_DIR/train_gpu_tests.log" || true
