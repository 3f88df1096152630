"""The code blocks of docs/guide/looking_inside.rst run as written (a docs test).

The guide's pictures come from the CNN of its first block trained for an epoch on the real
Fashion-MNIST (docs/guide/make_figures_inside.py); the test runs the blocks on that CNN
untrained, with MNIST-sized stand-in images scaled to ``[0, 1]`` for ``X_test``, its first
four as ``images`` and its sixth as ``boot``, and Fashion-MNIST's class names as ``names``.
It checks what the text says of the network and of the results' forms, not the figures'
numbers (those need the trained network).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from convnet.datasets import class_names
from convnet.layers import count_params, get_all_layers
from tests.docs_blocks import GUIDE, code_blocks, mnist_like

PAGE = GUIDE / "looking_inside.rst"
FIGURES = GUIDE / "make_figures_inside.py"


@pytest.fixture
def scope(tmp_path, monkeypatch, floatX32, seeded_rng):
    """The guide's network (its first block) and stand-ins for its images."""
    monkeypatch.chdir(tmp_path)
    X, _ = mnist_like(64, 0)
    X = (X - X.min()) / (X.max() - X.min())  # pixels in [0, 1]
    names = dict(X_test=X, images=X[:4], boot=X[5], names=list(class_names("fashion_mnist")))
    network = code_blocks(PAGE)[0]
    return network.run(names)


def test_the_network_and_its_pictures(scope, tmp_path, capsys):
    out = scope["out"]
    assert scope["cat"].output_shape == (None, 32, 14, 14)  # "concatenated into 32 channels"
    share = count_params(scope["fc"]) - count_params(scope["pool2"])
    assert round(100 * share / count_params(out)) == 97  # fc holds 97% of the parameters

    graph, filters, maps, distributions, statistics = [
        b
        for title in ("The layer graph", "Filters", "Feature maps", "Weights and activations")
        for b in code_blocks(PAGE, title)
    ]
    graph.run(scope)
    dot = (tmp_path / "network.dot").read_text()
    layer_names = ("input", "conv1", "pool1", "conv2a", "conv2b", "concat", "fc", "output")
    assert dot.startswith("digraph") and all(name in dot for name in layer_names)
    for block in (filters, maps, distributions):
        block.run(scope)
    for picture in ("network", "filters", "maps", "weights", "activations"):
        assert (tmp_path / f"{picture}.png").stat().st_size > 0

    statistics.run(scope)
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 9  # one line per layer but the input
    # dead and inactive fractions for the rectifier layers, those of the guide's table
    rectifiers = [line.split()[1] for line in printed if "None None" not in line]
    assert rectifiers == ["'conv1'", "'conv2a'", "'conv2b'", "'fc'"]


def test_saliency_maps_and_attacks(scope, tmp_path):
    saliency, adversarial, fooling = [
        b
        for title in ("Which pixels matter: saliency maps", "Adversarial images", "Fooling images")
        for b in code_blocks(PAGE, title)
    ]
    saliency.run(scope)
    maps = scope["maps"]
    assert list(maps) == ["saliency", "guided backprop", "deconvnet"]
    assert maps["saliency"].shape == (4, 28, 28)  # maximised over the channels
    assert maps["guided backprop"].shape == maps["deconvnet"].shape == (4, 1, 28, 28)

    adversarial.run(scope)
    r = scope["r"]
    assert r.target.tolist() == [8] and r.success.shape == r.l2.shape == (1,)
    assert 0 <= r.adversarial.min() and r.adversarial.max() <= 1  # clip=(0, 1)
    np.testing.assert_allclose(r.linf, np.abs(r.adversarial - r.original).max(), rtol=1e-5)

    fooling.run(scope)
    r = scope["r"]
    assert r.target.tolist() == [1] and r.adversarial.shape == (1, 1, 28, 28)
    for picture in ("saliency", "adversarial", "fooling"):
        assert (tmp_path / f"{picture}.png").stat().st_size > 0


def test_the_figures_come_from_the_same_network(scope):
    """ "The small CNN below" is the network docs/guide/make_figures_inside.py trains."""
    spec = importlib.util.spec_from_file_location("make_figures_inside", FIGURES)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    *_, trained = script.build_cnn()

    def described(net):
        return [
            (type(layer).__name__, layer.name, layer.output_shape, [p.name for p in layer.params])
            for layer in get_all_layers(net)
        ]

    assert described(trained) == described(scope["out"])
