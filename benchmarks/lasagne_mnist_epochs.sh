#!/usr/bin/env bash
# Lasagne's own examples/mnist.py, ported by changing its imports, timed per epoch with plain
# theano.function (PyTensor's default mode) and with lasagne.function (convnet.function, JAX).
#
#   benchmarks/lasagne_mnist_epochs.sh PATH/TO/Lasagne/examples/mnist.py [EPOCHS]
#
# The script is not part of convnet: pass the file from a Lasagne checkout. This driver writes
# two ported copies into a scratch folder (imports `pytensor as theano`, `pytensor.tensor as
# T`, `convnet as lasagne`; a cap of LIMIT_BATCHES (default 30) batches of 500 per pass; the
# second copy calls lasagne.function instead of theano.function) and runs each, model `cnn`,
# in a fresh process with an empty PyTensor cache, so epoch 1 includes compiling. Data: the
# gzipped IDX files of Debian's dataset-fashion-mnist (Lasagne's loader reads them from the
# working directory). PYTHON (default: .venv/bin/python of this checkout) runs them.
set -euo pipefail
src=${1:?usage: $0 PATH/TO/Lasagne/examples/mnist.py [EPOCHS]}
epochs=${2:-2}
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}
data=${DATA_DIR:-/usr/share/datasets/fashion-mnist}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cap='    cap = int(os.environ.get("LIMIT_BATCHES", 30)) * batchsize  # benchmark cap\n'
cap+='    inputs, targets = inputs[:cap], targets[:cap]'
sed -e 's/^import theano$/import pytensor as theano/' \
    -e 's/^import theano.tensor as T$/import pytensor.tensor as T/' \
    -e 's/^import lasagne$/import convnet as lasagne/' \
    -e "/^def iterate_minibatches(/a\\
$cap" "$src" > "$work/mnist_numba.py"
sed -e 's/theano\.function(/lasagne.function(/' "$work/mnist_numba.py" > "$work/mnist_jax.py"
cd "$data"
for name in numba jax; do
  cache=$(mktemp -d "$work/cache.XXXX")
  echo "== $name: $(cut -d' ' -f1-3 /proc/loadavg) (load), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
  /usr/bin/time -f "process: %e s wall, %U+%S s CPU" \
    env PYTENSOR_FLAGS="base_compiledir=$cache" PYTHONPATH="$repo" \
    "$python" -W error::RuntimeWarning "$work/mnist_$name.py" cnn "$epochs" 2>&1 \
    | grep -E "Epoch|accuracy|process|Warning|Error"
done
