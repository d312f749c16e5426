#!/usr/bin/env bash
# The trainer benchmark with the GPU strategies, for the day a GPU machine is lent: examples/s,
# the GPUs' utilization sampled during each fit, and the eval AUC of each variant (mirrored over
# the GPUs, mixed float16, XLA) against the in-memory floor. Without a GPU it says so in one line
# and exits 0. One short command: `make gpu-check` or `scripts/gpu-check.sh` (GPU_CHECK_TIMEOUT
# seconds at most, default 480; SCALES, default 16; RUN_HOME, a home where the taxi pipeline ran).
set -euo pipefail
cd "$(dirname "$0")/.."
NVIDIA_SMI="${NVIDIA_SMI:-nvidia-smi}"
PYTHON="${PYTHON:-.venv/bin/python}"

if ! command -v "$NVIDIA_SMI" >/dev/null 2>&1 || ! "$NVIDIA_SMI" -L >/dev/null 2>&1; then
  echo "gpu-check: no GPU on this machine ($NVIDIA_SMI finds none); nothing to check"
  exit 0
fi
"$NVIDIA_SMI" -L
seen=$("$PYTHON" -c 'import mlpipe, tensorflow as tf; print(len(tf.config.list_physical_devices("GPU")))' 2>/dev/null)
if [ "$seen" = "0" ]; then
  echo "gpu-check: $NVIDIA_SMI lists GPUs but TensorFlow sees none: this TensorFlow has no CUDA" \
       "libraries (install the and-cuda extra of the pinned tensorflow version into .venv)" >&2
  exit 1
fi
echo "gpu-check: TensorFlow sees $seen GPU(s)"
exec timeout "${GPU_CHECK_TIMEOUT:-480}" "$PYTHON" -m benchmarks.bench_trainer --gpu \
  --scales "${SCALES:-16}" ${RUN_HOME:+--run-home "$RUN_HOME"}
