#!/usr/bin/env bash
# README's test command: set up .venv when needed, then run the test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/models -x`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
exec .venv/bin/python -m pytest "${@:-tests}"
