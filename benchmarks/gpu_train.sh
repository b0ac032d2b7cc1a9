#!/usr/bin/env bash
# GPU training-throughput check and the train GPU tests, run once on a CUDA machine (one H100/H200; under 8 minutes: 330 s + 100 s at most, plus the install).
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

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1  # no network there: never wait on the hub
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || echo "warning: installing .whl/ failed; (b) needs trl and datasets"
  export PYTHONPATH="/tmp/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
else
  echo "warning: no .whl/ here (pass it in carry): (b) needs trl and datasets"
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
# Preflight: what each configuration needs, imported for real (a version clash shows here, not mid-run).
python3 - <<'PY' || true
import importlib
import torch, transformers
print(f"torch {torch.__version__} (cuda {torch.version.cuda}), transformers {transformers.__version__}")
for m in ("trl", "datasets", "pyarrow", "xxhash", "pydantic", "tensorboard", "sftscope.train.stage", "pytest",
          "liger_kernel", "flash_attn"):
    try:
        mod = importlib.import_module(m)
        print(f"  ok      {m} {getattr(mod, '__version__', '')}")
    except Exception as e:  # noqa: BLE001
        print(f"  MISSING {m}: {type(e).__name__}: {str(e)[:200]}")
PY

# 64 sequences of 1k-8k tokens (~220k tokens) per configuration; all three configurations in one process.
timeout 330 python3 benchmarks/train_throughput.py --sequences 64 --json "$OUT_DIR/train_throughput.json" \
  2>&1 | tee "$OUT_DIR/train_throughput.log" || echo "benchmark exited with an error (see the log); the JSON keeps what it measured"

# The train stage's GPU tests (memory probe of gradient_checkpointing: auto; FSDP2 skips on one GPU).
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/train/test_memory_gpu.py tests/train/test_fsdp_gpu.py \
  2>&1 | tail -15 | tee "$OUT_DIR/train_gpu_tests.log" || true
