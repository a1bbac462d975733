#!/usr/bin/env bash
# Main job: set up, train a small ViTPose on the tiny real COCO set, evaluate
# the final checkpoint (COCO AP) and run the whole-image demo (YOLOX-nano
# person boxes + ViTPose) on its 4 images. Minutes on a 2-core CPU.
#
#   bash scripts/main_job.sh
#
# Inputs (defaults: the shared folder next to the checkout):
#   COCO_TINY  folder with test_coco.json and its images
#              (default <repo>/../shared/data/coco)
#   WEIGHTS    folder with yolox_nano_coco_mmdet.pth
#              (default <repo>/../shared/weights)
# Outputs, in <repo>/outputs/main_job/ (replaced on each run):
#   train/  logs, config and checkpoints     test/  logs and metrics.json
#   demo/   per-image JSON keypoints and rendered images
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COCO_TINY="${COCO_TINY:-$ROOT/../shared/data/coco}"
WEIGHTS="${WEIGHTS:-$ROOT/../shared/weights}"
CONFIG="configs/body_2d_keypoint/topdown_heatmap/coco_tiny"
CONFIG="$CONFIG/vitpose-mm_td-hm_ViTPose-tiny_1xb14-100e_coco-tiny-128x96.py"
DET_CONFIG="mmdet::yolox/yolox_nano_8xb8-300e_coco.py"
DET_CKPT="$WEIGHTS/yolox_nano_coco_mmdet.pth"
OUT="$ROOT/outputs/main_job"
PY="$ROOT/.venv/bin/python"

if [[ ! -f "$COCO_TINY/test_coco.json" ]]; then
  echo "main_job: no tiny COCO set at $COCO_TINY (test_coco.json and its" \
       "images); put it there or set COCO_TINY=/path/to/coco" >&2
  exit 1
fi
if [[ ! -f "$DET_CKPT" ]]; then
  echo "main_job: no detector weights at $DET_CKPT; put" \
       "yolox_nano_coco_mmdet.pth there or set WEIGHTS=/path/to/folder" >&2
  exit 1
fi
COCO_TINY="$(cd "$COCO_TINY" && pwd)"
DET_CKPT="$(cd "$(dirname "$DET_CKPT")" && pwd)/$(basename "$DET_CKPT")"

start=$SECONDS
step() { echo; echo "== main_job [$((SECONDS - start)) s]: $*"; }

step "set-up (scripts/setup_env.sh)"
bash "$ROOT/scripts/setup_env.sh"

cd "$ROOT"
rm -rf "$OUT/train" "$OUT/test" "$OUT/demo"
mkdir -p "$OUT"

step "train $CONFIG"
"$PY" -m vitpose_mm.tools.train "$CONFIG" --work-dir "$OUT/train" \
  --cfg-options "data_root=$COCO_TINY/"
# mmengine writes the path of the last checkpoint it saved here.
CKPT="$(cat "$OUT/train/last_checkpoint")"

# Read with torch.load(weights_only=True): no unpickling, no flag needed.
step "test $CKPT"
"$PY" -m vitpose_mm.tools.test "$CONFIG" "$CKPT" \
  --work-dir "$OUT/test" --out "$OUT/test/metrics.json" \
  --cfg-options "data_root=$COCO_TINY/"
AP="$("$PY" -c 'import json, sys
print("%.4f" % json.load(open(sys.argv[1]))["coco/AP"])' \
  "$OUT/test/metrics.json")"

step "demo on the images of $COCO_TINY"
status=0
demo="$OUT/demo"
"$PY" -m vitpose_mm.tools.demo --input "$COCO_TINY" \
  --pose-config "$CONFIG" --pose-checkpoint "$CKPT" \
  --det-config "$DET_CONFIG" --det-checkpoint "$DET_CKPT" \
  --output-dir "$OUT/demo" --device cpu || {
  status=$?; demo="FAILED (exit status $status, see above)"; }

echo
echo "== main_job done in $((SECONDS - start)) s"
echo "   checkpoint: $CKPT"
echo "   test:       $OUT/test (metrics.json)"
echo "   demo:       $demo"
echo "   COCO AP (tiny COCO, ground-truth boxes, flip test): $AP"
exit "$status"
