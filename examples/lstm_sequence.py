#!/usr/bin/env python
"""The "adding problem" with bidirectional LSTMs and masks, as a Lasagne user writes it.

Every sequence has two channels: random values in [0, 1], and a marker that is 1 at two
positions and 0 elsewhere. The target is the sum of the two marked values. Sequences have
different lengths: the batch is padded to the longest one and a mask (1 inside a sequence,
0 in its padding) tells the LSTMs to carry their state over the padding. A model that
ignores the markers predicts the mean target, 1, with a mean squared error of about 1/6.

Apart from its three imports, this is Lasagne 0.2 code: ``theano.function``, ``T.vector``,
``lasagne.layers.LSTMLayer(..., mask_input=...)``, ``lasagne.updates.adagrad``.

Example::

    python examples/lstm_sequence.py --epochs 10
"""

import argparse

import numpy as np
import pytensor as theano
import pytensor.tensor as T

import convnet as lasagne


def gen_data(n_batch, min_length, max_length, rng):
    """Return inputs (n_batch, max_length, 2), targets (n_batch,), mask (n_batch, max_length)."""
    X = np.zeros((n_batch, max_length, 2))
    X[:, :, 0] = rng.uniform(size=(n_batch, max_length))
    mask = np.zeros((n_batch, max_length))
    y = np.zeros(n_batch)
    for n in range(n_batch):
        length = rng.randint(min_length, max_length + 1)
        mask[n, :length] = 1
        X[n, length:, 0] = 0
        # one marker in the first half of the sequence, one in the second
        first = rng.randint(0, length // 2)
        second = rng.randint(length // 2, length)
        X[n, [first, second], 1] = 1
        y[n] = X[n, first, 0] + X[n, second, 0]
    floatX = theano.config.floatX
    return X.astype(floatX), y.astype(floatX), mask.astype(floatX)


def build_network(max_length, n_hidden, grad_clip):
    l_in = lasagne.layers.InputLayer(shape=(None, max_length, 2))
    l_mask = lasagne.layers.InputLayer(shape=(None, max_length))
    # One LSTM reads the sequences forwards, one backwards; each returns its last state.
    l_forward = lasagne.layers.LSTMLayer(
        l_in,
        n_hidden,
        mask_input=l_mask,
        grad_clipping=grad_clip,
        nonlinearity=lasagne.nonlinearities.tanh,
        only_return_final=True,
    )
    l_backward = lasagne.layers.LSTMLayer(
        l_in,
        n_hidden,
        mask_input=l_mask,
        grad_clipping=grad_clip,
        nonlinearity=lasagne.nonlinearities.tanh,
        only_return_final=True,
        backwards=True,
    )
    l_concat = lasagne.layers.ConcatLayer([l_forward, l_backward])
    l_out = lasagne.layers.DenseLayer(l_concat, num_units=1, nonlinearity=None)
    return l_in, l_mask, l_out


def main(
    num_epochs=10,
    epoch_size=50,
    n_batch=50,
    min_length=10,
    max_length=15,
    n_hidden=20,
    learning_rate=0.1,
    grad_clip=100,
    seed=0,
    verbose=True,
    mode=None,
):
    """Train for ``num_epochs`` epochs of ``epoch_size`` batches.

    ``mode`` is passed to ``theano.function`` (None: PyTensor's default mode).
    Returns the validation mean squared error before training and after every epoch.
    """
    rng = np.random.RandomState(seed)
    lasagne.random.set_rng(np.random.RandomState(seed))
    l_in, l_mask, l_out = build_network(max_length, n_hidden, grad_clip)

    target_values = T.vector("target_output")
    predicted_values = lasagne.layers.get_output(l_out).flatten()
    cost = T.mean((predicted_values - target_values) ** 2)
    all_params = lasagne.layers.get_all_params(l_out, trainable=True)
    updates = lasagne.updates.adagrad(cost, all_params, learning_rate)

    if verbose:
        print("Compiling functions ...")
    train = theano.function(
        [l_in.input_var, target_values, l_mask.input_var], cost, updates=updates, mode=mode
    )
    compute_cost = theano.function(
        [l_in.input_var, target_values, l_mask.input_var], cost, mode=mode
    )

    X_val, y_val, mask_val = gen_data(n_batch, min_length, max_length, rng)
    history = [float(compute_cost(X_val, y_val, mask_val))]
    if verbose:
        print(f"Before training: validation cost = {history[0]:.4f}")
    for epoch in range(num_epochs):
        for _ in range(epoch_size):
            X, y, m = gen_data(n_batch, min_length, max_length, rng)
            train(X, y, m)
        history.append(float(compute_cost(X_val, y_val, mask_val)))
        if verbose:
            print(f"Epoch {epoch + 1}: validation cost = {history[-1]:.4f}")
    return history


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--epoch-size", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--min-length", type=int, default=50)
    parser.add_argument("--max-length", type=int, default=55)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--mode", default=None, help="PyTensor mode (JAX, NUMBA, FAST_RUN)")
    args = parser.parse_args()
    main(
        num_epochs=args.epochs,
        epoch_size=args.epoch_size,
        n_batch=args.batch_size,
        min_length=args.min_length,
        max_length=args.max_length,
        n_hidden=args.hidden,
        mode=args.mode,
    )
