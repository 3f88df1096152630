"""convnet.training.TensorBoard: the event files, read back with TensorBoard's own reader,
hold the run's scalars, weight and gradient histograms, filter images and layer table."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

import convnet.layers as L
import convnet.nonlinearities as nl
from convnet.training import Callback, TensorBoard, Trainer
from convnet.visualize import filter_mosaic

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def build_cnn():
    rng = np.random.default_rng(0)
    net = L.InputLayer((None, 1, 6, 6), name="in")
    conv = L.Conv2DLayer(net, 3, 3, W=rng.normal(0, 0.5, (3, 1, 3, 3)), name="conv")
    return L.DenseLayer(conv, 3, W=rng.normal(0, 0.3, (48, 3)), nonlinearity=nl.softmax, name="out")


def data(n=40, seed=1):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype("int32")
    X = rng.normal(0, 0.3, (n, 1, 6, 6))
    X[np.arange(n), 0, 2 * y, :] += 1.0  # class k: a bright row 2k
    return X, y


class Recorder(Callback):
    """What the trainer reported, to compare with what was logged."""

    def __init__(self):
        self.batches, self.lrs, self.steps = [], [], []

    def on_batch_begin(self, batch):
        self.lrs.append(self.trainer.learning_rate)

    def on_batch_end(self, batch, logs):
        self.batches.append(dict(logs))
        self.steps.append(self.trainer.global_step)


def read_events(log_dir):
    guidance = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}
    acc = event_accumulator.EventAccumulator(str(log_dir), size_guidance=guidance)
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def finite_difference_gradients(trainer, X, y, eps=1e-6):
    """d(mean cross-entropy of the deterministic output)/d(param), by central differences."""

    def loss():
        p = trainer.predict_proba(X)
        return -np.mean(np.log(p[np.arange(len(y)), y]))

    grads = {}
    for layer in L.get_all_layers(trainer.network):
        for param in layer.params:
            value = param.get_value()
            grad = np.zeros_like(value)
            for i in np.ndindex(value.shape):
                for sign in (1, -1):
                    shifted = value.copy()
                    shifted[i] += sign * eps
                    param.set_value(shifted)
                    grad[i] += sign * loss() / (2 * eps)
            param.set_value(value)
            grads[f"{layer.name}/{param.name.split('.')[-1]}"] = grad
    return grads


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("tb")
    X, y = data()
    trainer = Trainer(build_cnn(), update="sgd", learning_rate=0.2)
    recorder = Recorder()
    tb = TensorBoard(log_dir, histogram_freq=2, grad_data=(X[:16], y[:16]))
    history = trainer.fit(
        X[:32],
        y[:32],
        epochs=4,
        batch_size=8,
        validation_data=(X[32:], y[32:]),
        callbacks=[tb, recorder],
        progress=False,
    )
    return {
        "acc": read_events(log_dir),
        "trainer": trainer,
        "history": history,
        "recorder": recorder,
        "grad_data": (X[:16], y[:16]),
    }


def test_scalars_per_step_and_per_epoch(run):
    acc, history, recorder = run["acc"], run["history"], run["recorder"]
    tags = set(acc.Tags()["scalars"])
    assert {"batch/loss", "batch/acc", "batch/lr", "batch/images_per_s"} <= tags
    expected = {"loss", "acc", "val_loss", "val_acc", "lr", "time", "images_per_s"}
    assert {f"epoch/{k}" for k in expected} <= tags
    logged = scalars(acc, "batch/loss")
    assert [s for s, _ in logged] == recorder.steps == list(range(1, 17))
    np.testing.assert_allclose(
        [v for _, v in logged], [b["loss"] for b in recorder.batches], rtol=1e-6
    )
    np.testing.assert_allclose([v for _, v in scalars(acc, "batch/lr")], recorder.lrs, rtol=1e-6)
    assert all(v > 0 for _, v in scalars(acc, "batch/images_per_s"))
    for key in ("loss", "acc", "val_loss", "val_acc"):
        logged = scalars(acc, f"epoch/{key}")
        assert [s for s, _ in logged] == [1, 2, 3, 4]
        np.testing.assert_allclose([v for _, v in logged], history[key], rtol=1e-6)
    assert history["loss"][-1] < history["loss"][0]


def test_weight_and_gradient_histograms(run):
    acc, trainer = run["acc"], run["trainer"]
    names = ["conv/W", "conv/b", "out/W", "out/b"]
    assert sorted(acc.Tags()["histograms"]) == sorted(
        [f"weights/{n}" for n in names] + [f"gradients/{n}" for n in names]
    )
    # Every histogram_freq=2 epochs, and before training.
    assert [e.step for e in acc.Histograms("weights/out/W")] == [0, 2, 4]
    values = {
        f"{layer.name}/{p.name.split('.')[-1]}": p.get_value()
        for layer in L.get_all_layers(trainer.network)
        for p in layer.params
    }
    grads = finite_difference_gradients(trainer, *run["grad_data"])
    for name in names:
        for kind, reference in (("weights", values[name]), ("gradients", grads[name])):
            histogram = acc.Histograms(f"{kind}/{name}")[-1].histogram_value
            assert histogram.num == reference.size
            np.testing.assert_allclose(
                [histogram.min, histogram.max, histogram.sum],
                [reference.min(), reference.max(), reference.sum()],
                rtol=1e-5,
                atol=1e-9,
            )
    # The weights changed between the first and the last histogram.
    first, last = (e.histogram_value for e in acc.Histograms("weights/conv/W")[::2])
    assert first.sum != last.sum


def test_first_layer_filters_as_an_image(run):
    from PIL import Image

    acc, trainer = run["acc"], run["trainer"]
    assert acc.Tags()["images"] == ["filters/conv"]
    events = acc.Images("filters/conv")
    assert [e.step for e in events] == [0, 2, 4]
    conv = L.get_all_layers(trainer.network)[1]
    expected = np.round(filter_mosaic(conv) * 255).astype(np.uint8)
    image = np.asarray(Image.open(io.BytesIO(events[-1].encoded_image_string)))
    assert (events[-1].height, events[-1].width) == expected.shape
    np.testing.assert_array_equal(image.reshape(expected.shape + (-1,))[..., 0], expected)


def test_network_graph_as_text(run):
    acc = run["acc"]
    # tensorboardX files text under <tag>/text_summary, as TensorBoard's text plugin expects.
    assert {"graph/summary/text_summary", "graph/dot/text_summary"} <= set(acc.Tags()["tensors"])
    text = acc.Tensors("graph/summary/text_summary")[0].tensor_proto.string_val[0].decode()
    for word in ("conv", "Conv2DLayer", "out", "DenseLayer", "(None, 3)"):
        assert word in text
    dot = acc.Tensors("graph/dot/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "digraph" in dot


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"histogram_freq": -1}, ValueError, "histogram_freq: expected an int >= 0, received -1"),
        ({"histogram_freq": 1.5}, TypeError, "histogram_freq: expected an int, received float"),
        ({"log_every_n_steps": 0}, ValueError, "log_every_n_steps: expected an int >= 1"),
        ({"grad_data": [1, 2]}, TypeError, r"grad_data: expected a tuple \(inputs, targets\)"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=f"TensorBoard: {message}"):
        TensorBoard(tmp_path, **kwargs)


def test_missing_tensorboardx_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    X, y = data(8)
    trainer = Trainer(build_cnn(), update="sgd", learning_rate=0.1)
    with pytest.raises(ImportError, match=r"TensorBoard needs tensorboardX.*pip install"):
        trainer.fit(X, y, epochs=1, callbacks=[TensorBoard(tmp_path)], progress=False)
