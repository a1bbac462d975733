#!/usr/bin/env bash
# The GPU throughput table in one command (issue 24): ViTPose-S/B/L/H,
# ViTPose+-S/B and bottom-up ViTPose-B by the original repo's speed-test
# protocol (benchmarks/throughput.py: 100 warm-up + 100 timed calls of one
# batch, flip test and post-processing off) at batch 64, fp32 and fp16 /
# bf16 AMP, with and without torch.compile, channels-last.
#
#   bash scripts/gpu_throughput.sh [OUT.md] [extra throughput.py flags]
#
# Writes the markdown table to OUT.md (default throughput_gpu.md) and
# prints it; put it beside the paper's A100 numbers in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-throughput_gpu.md}
shift || true
python=${PYTHON:-.venv/bin/python}
"$python" benchmarks/throughput.py --device cuda --batch 64 \
  --precisions fp32 fp16 bf16 --compile both --channels-last \
  --markdown "$out" "$@"
