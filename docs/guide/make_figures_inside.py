"""Make the figures of the guide "Looking inside a network" from the real Fashion-MNIST.

Usage (from the repository root)::

    PYTHONPATH=. python docs/guide/make_figures_inside.py [--data-dir DIR] [--out-dir DIR]

``DIR`` defaults to ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``
package: gzipped IDX files). The script trains a small CNN for one epoch (a few minutes on
two CPU cores), writes ``docs/guide/_static/inside_*.png`` and prints the numbers the guide
quotes. Everything is seeded, so a rerun gives the same network up to floating-point
differences between machines.
"""

from __future__ import annotations

import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytensor  # noqa: E402
import pytensor.tensor as T  # noqa: E402

import convnet  # noqa: E402
from convnet import interpret, objectives, updates, visualize  # noqa: E402
from convnet.datasets import load_fashion_mnist  # noqa: E402
from convnet.datasets.mnist import FASHION_MNIST_CLASSES  # noqa: E402
from convnet.layers import (  # noqa: E402
    ConcatLayer,
    Conv2DLayer,
    DenseLayer,
    DropoutLayer,
    InputLayer,
    MaxPool2DLayer,
    get_all_params,
    get_output,
)
from convnet.nonlinearities import softmax  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = [name.split("/")[0] for name in FASHION_MNIST_CLASSES]


def build_cnn():
    """conv 5x5 -> pool -> two parallel convolutions (3x3 and 1x1), concatenated -> pool ->
    dense -> dropout -> softmax."""
    l_in = InputLayer((None, 1, 28, 28), name="input")
    conv1 = Conv2DLayer(l_in, 16, 5, pad="same", name="conv1")
    pool1 = MaxPool2DLayer(conv1, 2, name="pool1")
    conv2a = Conv2DLayer(pool1, 24, 3, pad="same", name="conv2a")
    conv2b = Conv2DLayer(pool1, 8, 1, name="conv2b")
    cat = ConcatLayer([conv2a, conv2b], name="concat")
    pool2 = MaxPool2DLayer(cat, 2, name="pool2")
    fc = DenseLayer(pool2, 128, name="fc")
    drop = DropoutLayer(fc, p=0.5, name="dropout")
    out = DenseLayer(drop, 10, nonlinearity=softmax, name="output")
    return l_in, conv1, conv2a, out


def train_one_epoch(l_in, out, X, y, batch_size=128, seed=0):
    targets = T.ivector("targets")
    loss = objectives.categorical_crossentropy(get_output(out), targets).mean()
    params = get_all_params(out, trainable=True)
    step = convnet.function(
        [l_in.input_var, targets], loss, updates=updates.adam(loss, params, 1e-3)
    )
    order = np.random.default_rng(seed).permutation(len(X))
    losses = []
    for i in range(0, len(X) - batch_size + 1, batch_size):
        idx = order[i : i + batch_size]
        losses.append(float(step(X[idx], y[idx])))
    return losses


def main(data_dir: str, out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    convnet.random.set_rng(np.random.RandomState(0))
    floatX = pytensor.config.floatX
    (X_train, y_train), (X_test, y_test) = load_fashion_mnist(data_dir)
    X_train = (X_train / 255.0).astype(floatX)  # pixels in [0, 1]: the attacks' clip range
    X_test = (X_test / 255.0).astype(floatX)
    l_in, conv1, conv2a, out = build_cnn()

    start = time.time()
    losses = train_one_epoch(l_in, out, X_train, y_train.astype("int32"))
    clf = interpret.Classifier(out)
    probs = clf.predict_proba(X_test)
    accuracy = float((probs.argmax(axis=1) == y_test).mean())
    print(
        f"trained 1 epoch in {time.time() - start:.0f} s: last loss {losses[-1]:.3f}, "
        f"test accuracy {accuracy:.4f}"
    )

    written = []

    def png(name):
        written.append(os.path.join(out_dir, name))
        return written[-1]

    # filters, feature maps, distributions, diagram
    visualize.plot_filters(conv1, png("inside_filters.png"), scale=10, padding=2)
    sample = int(np.flatnonzero(y_test == 9)[0])  # an ankle boot
    visualize.plot_feature_maps(conv1, X_test[sample], png("inside_maps.png"), ncols=6)
    visualize.plot_weight_distributions(out, png("inside_weights.png"))
    visualize.plot_activation_distributions(out, X_test[:1000], png("inside_activations.png"))
    print("layer statistics on 1000 test images:")
    for s in visualize.layer_statistics(out, X_test[:1000]):
        dead = "" if s.dead_fraction is None else f", dead {s.dead_fraction:.0%}"
        inactive = "" if s.inactive_fraction is None else f", <= 0: {s.inactive_fraction:.0%}"
        shape = str(s.output_shape)
        print(f"  {s.layer_name:28s} {shape:18s} params {s.num_params:7d}{dead}{inactive}")
    visualize.plot_network(out, png("inside_network.png"))

    # saliency, guided backpropagation, deconvnet for one test image of four classes
    picks = [int(np.flatnonzero(y_test == c)[0]) for c in (0, 1, 7, 8)]
    images = X_test[picks]
    maps = {
        "saliency": interpret.saliency_map(out, images),
        "guided backprop": interpret.guided_backprop(out, images),
        "deconvnet": interpret.deconvnet(out, images),
    }
    titles = [f"{NAMES[y_test[i]]} ({probs[i, y_test[i]]:.0%})" for i in picks]
    interpret.plot_saliency(images, maps, png("inside_saliency.png"), titles=titles, clip=(0, 1))

    # adversarial examples: FGSM on 1000 test images, then a small targeted perturbation
    for eps in (0.02, 0.05, 0.1):
        r = interpret.fgsm(clf, X_test[:1000], y_test[:1000], epsilon=eps)
        print(
            f"FGSM epsilon {eps}: accuracy {accuracy_of(r.label, y_test[:1000]):.3f} "
            f"(before {accuracy_of(r.original_label, y_test[:1000]):.3f})"
        )
    boot = X_test[sample : sample + 1]
    r = interpret.targeted_attack(clf, boot, target=8)  # ankle boot -> bag
    print(
        f"targeted attack ankle boot -> bag: success {bool(r.success[0])}, "
        f"L2 {r.l2[0]:.3f}, Linf {r.linf[0]:.3f}, bag probability {r.target_confidence[0]:.3f}"
    )
    interpret.plot_attack(r, 0, png("inside_adversarial.png"), class_names=NAMES)

    # a fooling image: noise grown into a confident "trouser"
    r = interpret.fooling_images(clf, target=[1], confidence=0.99, seed=0)
    print(
        f"fooling image for 'Trouser': {r.target_confidence[0]:.3f} after the ascent, "
        f"started at {r.original_confidence[0]:.3f} for {NAMES[r.original_label[0]]!r}"
    )
    interpret.plot_attack(r, 0, png("inside_fooling.png"), class_names=NAMES)
    for path in written:
        print(f"wrote {path} ({os.path.getsize(path) // 1024} KB)")


def accuracy_of(labels, y):
    return float((np.asarray(labels) == y).mean())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out-dir", default=os.path.join(HERE, "_static"))
    args = parser.parse_args()
    main(args.data_dir, args.out_dir)
