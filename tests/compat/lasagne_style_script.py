"""A Lasagne 0.2 training script whose only changes are the three imports below.

Everything after the imports is written as a Theano/Lasagne user would have written it:
``theano.function``, ``T.tensor4``, ``lasagne.layers``, ``lasagne.updates``,
``lasagne.objectives``, ``theano.config.floatX``, parameters saved with ``np.savez``.
Run by tests/compat/test_lasagne_compat.py on small synthetic data.
"""

import sys

import numpy as np

import pytensor as theano
import pytensor.tensor as T
import convnet as lasagne


def build_cnn(input_var=None):
    network = lasagne.layers.InputLayer(shape=(None, 1, 12, 12), input_var=input_var)
    network = lasagne.layers.Conv2DLayer(
        network, num_filters=4, filter_size=(3, 3),
        nonlinearity=lasagne.nonlinearities.rectify,
        W=lasagne.init.GlorotUniform())
    network = lasagne.layers.MaxPool2DLayer(network, pool_size=(2, 2))
    network = lasagne.layers.DenseLayer(
        lasagne.layers.dropout(network, p=.5),
        num_units=16,
        nonlinearity=lasagne.nonlinearities.rectify)
    network = lasagne.layers.DenseLayer(
        lasagne.layers.dropout(network, p=.5),
        num_units=2,
        nonlinearity=lasagne.nonlinearities.softmax)
    return network


def iterate_minibatches(inputs, targets, batchsize, shuffle=False):
    assert len(inputs) == len(targets)
    if shuffle:
        indices = np.arange(len(inputs))
        np.random.shuffle(indices)
    for start_idx in range(0, len(inputs) - batchsize + 1, batchsize):
        if shuffle:
            excerpt = indices[start_idx:start_idx + batchsize]
        else:
            excerpt = slice(start_idx, start_idx + batchsize)
        yield inputs[excerpt], targets[excerpt]


def main(num_epochs, out_path):
    np.random.seed(1234)
    # Two classes: a bright square in the left or in the right half.
    X = np.random.rand(256, 1, 12, 12).astype(theano.config.floatX) * 0.3
    y = np.random.randint(0, 2, 256).astype('int32')
    for i, label in enumerate(y):
        X[i, 0, 4:8, (1 if label == 0 else 7):(5 if label == 0 else 11)] += 1.0
    X_train, y_train, X_test, y_test = X[:192], y[:192], X[192:], y[192:]

    input_var = T.tensor4('inputs')
    target_var = T.ivector('targets')
    network = build_cnn(input_var)

    prediction = lasagne.layers.get_output(network)
    loss = lasagne.objectives.categorical_crossentropy(prediction, target_var)
    loss = loss.mean()
    params = lasagne.layers.get_all_params(network, trainable=True)
    updates = lasagne.updates.nesterov_momentum(
        loss, params, learning_rate=0.05, momentum=0.9)

    test_prediction = lasagne.layers.get_output(network, deterministic=True)
    test_loss = lasagne.objectives.categorical_crossentropy(test_prediction, target_var)
    test_loss = test_loss.mean()
    test_acc = T.mean(T.eq(T.argmax(test_prediction, axis=1), target_var),
                      dtype=theano.config.floatX)

    train_fn = theano.function([input_var, target_var], loss, updates=updates)
    val_fn = theano.function([input_var, target_var], [test_loss, test_acc])

    for epoch in range(num_epochs):
        train_err = 0
        train_batches = 0
        for batch in iterate_minibatches(X_train, y_train, 32, shuffle=True):
            inputs, targets = batch
            train_err += train_fn(inputs, targets)
            train_batches += 1
        print("Epoch {} training loss: {:.6f}".format(epoch + 1, float(train_err / train_batches)))

    err, acc = val_fn(X_test, y_test)
    print("test loss: {:.6f}".format(float(err)))
    print("test accuracy: {:.4f}".format(float(acc)))
    np.savez(out_path, *lasagne.layers.get_all_param_values(network))

    # Load the parameters into a fresh network, as Lasagne users do.
    network2 = build_cnn(T.tensor4('inputs2'))
    with np.load(out_path) as f:
        param_values = [f['arr_%d' % i] for i in range(len(f.files))]
    lasagne.layers.set_all_param_values(network2, param_values)
    same = all(np.array_equal(a, b) for a, b in zip(
        lasagne.layers.get_all_param_values(network),
        lasagne.layers.get_all_param_values(network2)))
    print("reloaded parameters identical: {}".format(same))


if __name__ == '__main__':
    main(int(sys.argv[1]), sys.argv[2])
