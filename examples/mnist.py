#!/usr/bin/env python
"""Train a multi-layer perceptron or a CNN on MNIST or Fashion-MNIST.

The example ships inside the package, so that an installed wheel runs it too
(``python -m convnet.examples.mnist`` or ``convnet-mnist``): this script runs that module.
``python examples/mnist.py --help`` lists the options.
"""

from convnet.examples.mnist import (  # noqa: F401 (the example's names, for importers)
    build_cnn,
    build_custom_mlp,
    build_mlp,
    build_model,
    cli,
    iterate_minibatches,
    load_dataset,
    main,
    parse_args,
)

if __name__ == "__main__":
    cli()
