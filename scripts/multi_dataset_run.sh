#!/usr/bin/env bash
# Few-iteration CPU run of the six-dataset ViTPose+ recipe on the tiny real
# sets of ../shared/data: trains a tiny ViTPose+ for 3 epochs (9 iterations),
# then prints each dataset's metric (coco/AP, aic/AP, mpii/PCK, ap10k/AP,
# apt36k/AP, wholebody/AP). A wiring check, minutes on CPU.
# Extra arguments go to vitpose_mm.tools.train (e.g. --work-dir DIR).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# One thread per process is much faster than two on a shared 2-core CPU.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec .venv/bin/python -m vitpose_mm.tools.train \
  configs/body_2d_keypoint/topdown_heatmap/vitpose_plus/vitpose-mm_td-hm_ViTPose-plus-tiny_1xb16-3e_6datasets-tiny-256x192.py \
  --work-dir "${WORK_DIR:-outputs/vitpose_plus_tiny}" "$@"
