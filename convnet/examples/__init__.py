"""Examples that ship with convnet, runnable from an installed wheel.

``python -m convnet.examples.mnist`` (or the ``convnet-mnist`` command) trains Lasagne's
classic MNIST/Fashion-MNIST example; ``examples/mnist.py`` in the source tree runs the same
code. The other examples (CIFAR-10, tiny-imagenet, ensembles) live in the source tree's
``examples/`` folder.
"""

__all__ = ["mnist"]
