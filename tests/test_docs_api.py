"""The code blocks of the API pages (docs/api/*.rst) run as written (a docs test).

Two pages have one: layers.rst builds a network and compiles its prediction, and
interpret.rst explains and attacks a network ``l_out`` on ``images``, ``labels`` and the
class ``names``; the test runs it on layers.rst's network with MNIST-sized stand-in images
in ``[0, 1]``. (models.rst is a doctest page: tests/test_docs_models.py.)
"""

from __future__ import annotations

import numpy as np

from tests.docs_blocks import API, code_blocks, mnist_like


def test_every_python_block_is_tested_here_or_in_models():
    pages = {p.name for p in API.glob("*.rst") if code_blocks(p)}
    assert pages == {"layers.rst", "interpret.rst"}


def test_layers_then_interpret(tmp_path, monkeypatch, floatX32, seeded_rng):
    monkeypatch.chdir(tmp_path)
    (network,) = code_blocks(API / "layers.rst")
    (explain,) = code_blocks(API / "interpret.rst")

    scope = network.run({})
    X, y = mnist_like(6, 0)
    X = (X - X.min()) / (X.max() - X.min())
    probabilities = scope["predict"](X)
    assert probabilities.shape == (6, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)

    scope.update(images=X[:3], labels=y[:3], names=[f"digit {k}" for k in range(10)])
    explain.run(scope)
    assert scope["sal"].shape == (3, 28, 28)  # (batch, rows, cols)
    assert scope["gb"].shape == (3, 1, 28, 28)  # (batch, channels, rows, cols)
    adv = scope["adv"]
    assert np.abs(adv.adversarial - adv.original).max() <= 0.05 + 1e-6  # epsilon
    assert scope["small"].target.tolist() == [8, 8, 8]
    assert scope["fake"].target.tolist() == [0, 1, 2]
    assert (tmp_path / "attack.png").stat().st_size > 0
