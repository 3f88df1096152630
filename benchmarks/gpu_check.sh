#!/usr/bin/env bash
# One-command check of convnet on a GPU machine without internet access.
#
# On this machine:   make wheelhouse           (benchmarks/make_wheelhouse.sh; ~5 MiB)
# On the GPU machine, from a copy of the repository with ./wheelhouse in it:
#                    benchmarks/gpu_check.sh   (--device gpu, the default)
# Anywhere, on the CPU, end to end (what CI can check):
#                    benchmarks/make_wheelhouse.sh --python 3.11 && benchmarks/gpu_check.sh --device cpu --quick
#
# It installs convnet and its missing dependencies from the wheelhouse into a private folder
# (nothing of the machine's own Python changes), then runs
#   1. pytest tests/ops -k jax   (the operators under JAX against their references),
#   2. a float32 training run of the Lasagne-style script of tests/compat under JAX,
#   3. benchmarks/train_step.py --device DEVICE (convnet vs PyTorch, networks F, C, R,
#      batch 128 and 512, training and inference),
# and writes OUT/gpu_check.json and OUT/report.txt (OUT: --out, default ./gpu_check_out).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PY=${PYTHON:-python3}
device=gpu
wheelhouse=$root/wheelhouse
out=$root/gpu_check_out
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --wheelhouse) wheelhouse=$(cd "$2" && pwd); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    *) echo "gpu_check.sh: unknown argument $1 (expected --device gpu|cpu, --wheelhouse DIR, --out DIR, --quick)" >&2; exit 2 ;;
  esac
done
case "$device" in gpu|cpu) ;; *) echo "gpu_check.sh: --device must be gpu or cpu, received $device" >&2; exit 2 ;; esac
if ! ls "$wheelhouse"/convnet-*.whl >/dev/null 2>&1; then
  echo "gpu_check.sh: no convnet wheel in $wheelhouse: run 'make wheelhouse' (or benchmarks/make_wheelhouse.sh) first" >&2
  exit 2
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
site=$(mktemp -d)/site
trap 'rm -rf "$(dirname "$site")"' EXIT
"$PY" -m pip install -q --no-index --no-deps --no-compile --target "$site" "$wheelhouse"/*.whl || {
  echo "gpu_check.sh: installing the wheelhouse with $PY failed (built for another Python? see make_wheelhouse.sh --python)" >&2
  exit 1
}
# The wheel, not the checkout, is what runs: tests import convnet from $site.
export PYTHONPATH=$site
export PYTHONUNBUFFERED=1
if [ "$device" = cpu ]; then export JAX_PLATFORMS=cpu; fi
work=$(mktemp -d)
cp -r "$root/tests" "$root/pyproject.toml" "$work/"
status=0
log=$out/log.txt
: >"$log"

step() {  # step NAME COMMAND...: run, log, record the exit status
  local name=$1; shift
  echo "== $name: $*" | tee -a "$log"
  local t0=$SECONDS
  (cd "$work" && "$@") >>"$log" 2>&1
  local rc=$?
  echo "$name rc=$rc seconds=$((SECONDS - t0))" | tee -a "$log"
  echo "\"$name\": {\"rc\": $rc, \"seconds\": $((SECONDS - t0))}," >>"$out/steps.part"
  [ $rc -eq 0 ] || status=1
}
rm -f "$out/steps.part"

(cd "$work" && "$PY" -c "import convnet, jax, pytensor, torch; print('convnet', convnet.__file__, 'jax', jax.__version__, jax.default_backend(), jax.devices(), 'pytensor', pytensor.__version__, 'torch', torch.__version__, 'cuda', torch.cuda.is_available())") | tee -a "$log"

if [ $quick = 1 ]; then
  step ops_jax "$PY" -m pytest -q -p no:cacheprovider -o addopts= tests/ops/test_conv.py -k jax -x
  step compat_float32 env PYTENSOR_FLAGS=mode=JAX,floatX=float32 "$PY" tests/compat/lasagne_style_script.py 3 "$work/model.npz"
  step train_step "$PY" "$root/benchmarks/train_step.py" --device "$device" --networks F --batch 128 --repeats 1 --steps 2 --inference --json "$out/train_step.json"
else
  step ops_jax "$PY" -m pytest -q -p no:cacheprovider -o addopts= tests/ops -k jax
  step compat_float32 env PYTENSOR_FLAGS=mode=JAX,floatX=float32 "$PY" tests/compat/lasagne_style_script.py 15 "$work/model.npz"
  step train_step "$PY" "$root/benchmarks/train_step.py" --device "$device" --networks F,C,R --batch 128,512 --repeats 5 --steps 10 --inference --json "$out/train_step.json"
fi

{
  echo "{"
  echo "\"device\": \"$device\", \"quick\": $quick, \"status\": $status,"
  sed '$ s/,$//' "$out/steps.part"
  echo "}"
} >"$out/gpu_check.json"
rm -f "$out/steps.part"
{
  echo "convnet GPU check ($device), $(date -u +%Y-%m-%dT%H:%MZ)"
  grep -E "^(convnet /|== |[a-z_0-9]+ rc=)" "$log"
  echo
  grep -A 40 "^python .* mode=" "$log" | grep -E "^(python|net|[FCR] )" || true
  grep -E "passed|failed" "$log" | tail -n 3
} >"$out/report.txt"
cat "$out/report.txt"
exit $status
