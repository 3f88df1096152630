"""The code blocks of docs/guide/getting_started.rst run as written (a docs test).

Each section's blocks run in order in one namespace, in a temporary folder. The guide's
first section makes its own stand-in data; the later sections use MNIST-sized stand-ins
(tests/docs_blocks.py) where they call what they compiled.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytest

import convnet
from convnet import layers, updates
from tests.docs_blocks import GUIDE, code_blocks, literal_blocks, mnist_like

PAGE = GUIDE / "getting_started.rst"


def test_first_code_block_says_how_to_get_float32():
    first = literal_blocks(PAGE.read_text())[0]
    assert "floatX=float32" in first and "2.7x slower" in first


@pytest.mark.slow  # two compilations of a small CNN: 15-60 s
def test_trainer_example_runs(tmp_path, monkeypatch, capsys):
    blocks = code_blocks(PAGE, "Training a network")
    assert len(blocks) == 3
    assert 'change_flags(floatX="float32")' in blocks[0].code
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    for block in blocks:
        block.run(scope)
    trainer, history = scope["trainer"], scope["history"]
    assert len(history) == 3 and history["val_acc"][-1] > 0.8
    assert scope["resumed"].epoch == 4 and len(scope["resumed"].history) == 4
    assert scope["resumed"].history["loss"][:3] == history["loss"]
    assert all(p.dtype == "float32" for p in trainer.get_param_values())
    assert np.array_equal(scope["again"], scope["labels"])
    assert set(scope["scores"]) == {"loss", "acc"}  # {"loss": ..., "acc": ...}
    out = capsys.readouterr().out
    assert out.startswith("Trainer.fit: loss categorical_crossentropy")
    assert (tmp_path / "run.h5").exists() and (tmp_path / "mnist.h5").exists()


@pytest.fixture
def by_hand(floatX32, seeded_rng):
    """The namespace of the section "Building the training step yourself", run, and a batch
    with what ``predict`` gives for it."""
    (block,) = code_blocks(PAGE, "Building the training step yourself")
    scope = block.run({})
    X, y = mnist_like(16, 0)
    losses = [float(scope["train"](X, y)) for _ in range(5)]
    assert losses[-1] < losses[0]
    expected = scope["predict"](X)
    assert expected.shape == (16, 10)
    return scope, X, expected


def run_backends(scope, monkeypatch, compile_as=None):
    """Run the section "Choosing the backend"; return the functions it compiled, by mode
    (compiled in the mode ``compile_as`` instead, when given)."""
    (block,) = code_blocks(PAGE, "Choosing the backend")
    compiled = {}
    function = convnet.function

    def recording(*args, mode=None, **kwargs):
        compiled[mode] = function(*args, mode=compile_as or mode, **kwargs)
        return compiled[mode]

    monkeypatch.setattr(convnet, "function", recording)
    block.run(scope)
    assert list(compiled) == ["c", "numba", "py"]
    return compiled


def test_the_training_step_by_hand_and_the_backends_block(by_hand, monkeypatch):
    """The backends block, every function compiled in the "py" mode (no C or numba
    compilation: the slow test below compiles each in its own mode)."""
    scope, X, expected = by_hand
    for f in run_backends(scope, monkeypatch, compile_as="py").values():
        np.testing.assert_allclose(f(X), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.slow  # C and numba compilations: 3 s with warm caches, 15-30 s without
def test_every_backend_gives_the_same_results(by_hand, monkeypatch):
    scope, X, expected = by_hand
    for f in run_backends(scope, monkeypatch).values():
        np.testing.assert_allclose(f(X), expected, rtol=1e-4, atol=1e-6)
    plain = pytensor.function([scope["x"]], scope["out"])  # PyTensor's own default mode
    np.testing.assert_allclose(plain(X), expected, rtol=1e-4, atol=1e-6)


def test_coming_from_lasagne():
    (imports,) = code_blocks(PAGE, "Coming from Lasagne")
    scope = imports.run({})
    lasagne, T = scope["lasagne"], scope["T"]
    assert lasagne.layers.Conv2DLayer is convnet.layers.Conv2DLayer
    assert scope["theano"].function is pytensor.function
    l_in = lasagne.layers.InputLayer((None, 3), T.matrix("x"))
    assert lasagne.layers.DenseLayer(l_in, 2).output_shape == (None, 2)


def test_writing_your_own_layer(tmp_path, seeded_rng):
    (block,) = code_blocks(PAGE, "Writing your own layer")
    scope = block.run({})
    l_in = layers.InputLayer((None, 3, 4, 4))
    layer = scope["ScaledSoftplusLayer"](l_in, name="softplus")
    assert layer.output_shape == (None, 3, 4, 4)
    assert layers.get_all_params(layer) == [layer.scale]
    assert layer.scale.get_value().shape == (3,)
    assert layers.get_all_params(layer, regularizable=True) == []

    x = np.random.default_rng(0).normal(size=(2, 3, 4, 4)).astype(pytensor.config.floatX)
    output = convnet.function([l_in.input_var], layers.get_output(layer))(x)
    np.testing.assert_allclose(output, np.log1p(np.exp(x)), rtol=1e-6)  # scale 1

    # updated by the update rules ...
    loss = layers.get_output(layer).sum()
    step = convnet.function([l_in.input_var], loss, updates=updates.adam(loss, [layer.scale]))
    step(x)
    assert not np.allclose(layer.scale.get_value(), 1.0)
    # ... and saved by convnet.io.save_params
    convnet.io.save_params(layer, tmp_path / "softplus.h5")
    trained = layer.scale.get_value()
    layer.scale.set_value(np.ones(3, dtype=trained.dtype))
    convnet.io.load_params(layer, tmp_path / "softplus.h5")
    np.testing.assert_array_equal(layer.scale.get_value(), trained)
