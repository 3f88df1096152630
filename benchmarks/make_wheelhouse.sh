#!/usr/bin/env bash
# Wheels to install convnet on a machine without internet access (the GPU machines this
# project is sometimes lent: Python 3.12 with JAX, PyTorch, NumPy, SciPy, numba, h5py, Pillow
# and tqdm already installed). Writes convnet's own wheel and those of its dependencies that
# such a machine lacks (PyTensor and its pure-Python helpers) into a folder, by default
# ./wheelhouse (git-ignored).
#
#   benchmarks/make_wheelhouse.sh                 # for the GPU machines' Python 3.12
#   benchmarks/make_wheelhouse.sh --python 3.11   # for this machine's Python (CPU check)
#   benchmarks/make_wheelhouse.sh --out DIR
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
pyver=3.12
out=wheelhouse
while [ $# -gt 0 ]; do
  case "$1" in
    --python) pyver=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "make_wheelhouse.sh: unknown argument $1 (expected --python X.Y, --out DIR)" >&2; exit 2 ;;
  esac
done
case "$pyver" in
  3.11) pytensor="pytensor>=3.0.7,<3.2" ;;
  *) pytensor="pytensor>=3.3,<3.4" ;;
esac
rm -rf "$out"
mkdir -p "$out"
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$out" . 2>/dev/null \
  || "$PY" -m pip wheel -q --no-deps -w "$out" .
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" \
  --implementation cp "${platforms[@]}" -d "$out" \
  "$pytensor" cons etuples logical-unification miniKanren
echo "wheelhouse $out for Python $pyver: $(ls "$out" | wc -l) wheels, $(du -sh "$out" | cut -f1)"
ls "$out"
