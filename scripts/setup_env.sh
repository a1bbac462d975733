#!/usr/bin/env bash
# Idempotent set-up: creates .venv/ at the repository root with the pinned
# OpenMMLab stack and vitpose_mm in editable mode. Re-running on a ready
# machine only checks a stamp and the imports (seconds).
#
# mmcv 2.1.0 has no Linux wheel on PyPI. pip's own PIP_FIND_LINKS is honoured
# (CI points it at ../shared/wheelhouse, which holds a prebuilt wheel);
# without a wheel, mmcv is built from its sdist with ops (about 7 min on
# 2 cores), raising setup.py's -std=c++17 to -std=c++20 as torch 2.14's
# headers require.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY_BOOT="${PYTHON:-python3.11}"
STAMP="$VENV/.vitpose_mm_stamp"
want_stamp="$(cat "$ROOT/scripts/setup_env.sh" "$ROOT"/requirements/*.txt "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]] \
   && "$VENV/bin/python" -c "import mmcv.ops, mmdet, mmpose, xtcocotools, vitpose_mm, vitpose_runtime" 2>/dev/null; then
  exit 0
fi

echo "[setup_env] creating/updating $VENV" >&2
[[ -x "$VENV/bin/python" ]] || "$PY_BOOT" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
# pip, with the notices we expect (the registry mirror's find-links, torch's
# setuptools>=77 metadata, the legacy editable mode) filtered out; pip's own
# exit status is kept.
pip_quiet() {
  local log status=0
  log="$(mktemp)"
  "${PIP[@]}" "$@" >"$log" 2>&1 || status=$?
  grep -v -e '^WARNING: Location' -e 'Legacy editable install' \
    -e 'requires setuptools>=' -e "dependency resolver does not" \
    -e 'dependency conflicts' "$log" >&2 || true
  rm -f "$log"
  return "$status"
}
pip_quiet install -q "pip==24.3.1"

# 1. torch first, so nothing later can pull another version.
pip_quiet install -q -c "$ROOT/requirements/constraints.txt" -r "$ROOT/requirements/stack.txt"
# torch's metadata asks for setuptools>=77, but mmcv 2.1.0's source build and
# openmim need the pkg_resources of setuptools<70; torch runs fine with it.
pip_quiet install -q "setuptools<70" wheel ninja

# 2. mmcv with compiled ops: a wheel from PIP_FIND_LINKS, else build from source.
if ! "$VENV/bin/python" -c "import mmcv.ops" 2>/dev/null; then
  if ! "${PIP[@]}" install -q --no-deps --only-binary=mmcv "mmcv==2.1.0" 2>/dev/null; then
    echo "[setup_env] no mmcv 2.1.0 wheel found; building from source (~7 min)" >&2
    build="$(mktemp -d)"
    "${PIP[@]}" download -q --no-deps --no-binary=:all: "mmcv==2.1.0" -d "$build"
    tar -xzf "$build"/mmcv-2.1.0.tar.gz -C "$build"
    sed -i 's/-std=c++17/-std=c++20/g' "$build/mmcv-2.1.0/setup.py"
    (cd "$build/mmcv-2.1.0" && MMCV_WITH_OPS=1 "${PIP[@]}" install -q --no-build-isolation --no-deps .)
    rm -rf "$build"
  fi
fi

# 3. Runtime deps of mmcv/mmdet/mmpose (they are installed --no-deps: mmpose
#    pulls the broken chumpy and would upgrade torch). openmim goes in without
#    its opendatalab/openxlab chain, which pins setuptools 60 and requests 2.28.
C=(-c "$ROOT/requirements/constraints.txt")
pip_quiet install -q "${C[@]}" -r "$ROOT/requirements/runtime.txt"
pip_quiet install -q --no-deps "openmim==0.3.9"
# The xtcocotools wheel is built for numpy 1 and crashes under numpy 2.
pip_quiet install -q "${C[@]}" --no-binary=xtcocotools "xtcocotools==1.14.3"
pip_quiet install -q --no-deps "mmdet==3.3.0" "mmpose==1.3.2"

# 4. Test extras (pytest, transformers for parity), ONNX export and
#    onnxruntime, then vitpose_mm itself.
pip_quiet install -q "${C[@]}" -r "$ROOT/requirements/tests.txt" \
  -r "$ROOT/requirements/export.txt"
# Legacy (setup.py develop) editable mode: mim finds .mim/ next to the
# distribution's location, which is the repository only in this mode.
pip_quiet install -q --no-deps --no-build-isolation --no-use-pep517 -e "$ROOT"
# projects/vitpose_runtime (numpy + OpenCV + onnxruntime) owns the numpy-only
# pieces the package shares with it (decode, boxes, tracking); editable, so
# the package and the runtime read the same files.
pip_quiet install -q --no-deps --no-build-isolation -e "$ROOT/projects/vitpose_runtime"

"$VENV/bin/python" -c "import mmcv.ops, mmdet, mmpose, xtcocotools, vitpose_mm, vitpose_runtime"
echo "$want_stamp" > "$STAMP"
echo "[setup_env] ready: $VENV" >&2
