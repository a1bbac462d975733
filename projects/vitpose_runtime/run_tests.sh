#!/usr/bin/env bash
# Tests of projects/vitpose_runtime in a venv WITHOUT torch and OpenMMLab
# (proving the runtime needs only numpy, OpenCV and onnxruntime).
# The venv is created once (projects/vitpose_runtime/.venv, or
# $VITPOSE_RUNTIME_VENV) with requirements-test.txt; later runs reuse it and
# only reinstall the package itself (a few seconds).
# Extra arguments go to pytest.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${VITPOSE_RUNTIME_VENV:-$HERE/.venv}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
STAMP="$VENV/.requirements-test.txt"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
fi
if ! cmp -s "$HERE/requirements-test.txt" "$STAMP"; then
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    -r "$HERE/requirements-test.txt"
  cp "$HERE/requirements-test.txt" "$STAMP"
fi
# A regular (not editable) install: the tests see what `pip install` ships.
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps \
  --force-reinstall "$HERE"
cd "$HERE/tests"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "${@:-.}"
