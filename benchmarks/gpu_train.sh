#!/usr/bin/env bash
# GPU training-throughput check, run once on a CUDA machine (written for one H200; < 6 minutes).
#
#   bash benchmarks/gpu_train.sh            # results in $OUT (or benchmarks/out): train_throughput.{json,log}
#
# Needs torch + transformers only (no trl/datasets). Liger's fused linear cross-entropy is used when
# `liger_kernel` imports; if it is not installed, the wheel is taken from .whl/ (offline, no dependencies:
# it needs only torch and the triton that CUDA builds of torch ship). flash_attn is used when present.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-benchmarks/out}"
mkdir -p "$OUT_DIR"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python - <<'PY'
import importlib.util, torch, transformers
print(f"torch {torch.__version__} (cuda {torch.version.cuda}), transformers {transformers.__version__}, "
      f"liger_kernel {'yes' if importlib.util.find_spec('liger_kernel') else 'no'}, "
      f"flash_attn {'yes' if importlib.util.find_spec('flash_attn') else 'no'}")
PY
if ! python -c "import liger_kernel" 2>/dev/null; then
  whl=$(ls .whl/liger_kernel-*.whl 2>/dev/null | head -1 || true)
  if [ -n "$whl" ]; then
    pip install --quiet --no-index --no-deps "$whl" && echo "installed $whl"
  else
    echo "liger_kernel not available: the sftscope run uses the chunked cross-entropy instead"
  fi
fi

# 64 sequences of 1k-8k tokens (~220k tokens) per configuration; both configurations in the same process.
timeout 330 python benchmarks/train_throughput.py --sequences 64 --json "$OUT_DIR/train_throughput.json" \
  2>&1 | tee "$OUT_DIR/train_throughput.log"
