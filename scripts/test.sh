#!/usr/bin/env bash
# README's test command: set up .venv when needed, then run the test suite.
# Without arguments it also runs the tests of projects/vitpose_runtime in
# their own venv without torch or OpenMMLab (projects/vitpose_runtime/
# run_tests.sh). Extra arguments go to pytest and run the main suite only
# (e.g. `bash scripts/test.sh tests/models -x`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
if [[ $# -eq 0 ]]; then
  echo "== projects/vitpose_runtime (numpy + OpenCV + onnxruntime venv)"
  bash projects/vitpose_runtime/run_tests.sh
  echo "== main suite"
fi
exec .venv/bin/python -m pytest "${@:-tests}"
