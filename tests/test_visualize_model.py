"""Tests of convnet.visualize's model views: filters, feature maps, weight and activation
distributions, and the network diagram."""

import sys

import numpy as np
import pytensor
import pytest
from PIL import Image
from scipy.signal import correlate

from convnet import visualize
from convnet.layers import (
    ConcatLayer,
    Conv2DLayer,
    DenseLayer,
    InputLayer,
    MaxPool2DLayer,
)
from convnet.nonlinearities import sigmoid, softmax, tanh

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _normalized(f):
    lo, hi = f.min(), f.max()
    return (f - lo) / (hi - lo)


def _png_array(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


# --------------------------------------------------------------------------------------
# filters
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("flip_filters", [True, False])
def test_filter_mosaic_places_each_normalized_filter(flip_filters):
    rng = np.random.default_rng(0)
    W = rng.normal(size=(5, 1, 3, 2))
    with pytensor.config.change_flags(floatX="float64"):
        layer = Conv2DLayer(InputLayer((None, 1, 6, 6)), 5, (3, 2), W=W, flip_filters=flip_filters)
    scale, pad = 2, 2
    m = visualize.filter_mosaic(layer, scale=scale, padding=pad)
    # 5 filters -> 3 columns, 2 rows of (6 x 4)-pixel tiles
    assert m.shape == (2 * (6 + pad) + pad, 3 * (4 + pad) + pad)
    expected_bg = np.ones(m.shape, dtype=bool)
    for i in range(5):
        r, c = divmod(i, 3)
        f = W[i, 0][::-1, ::-1] if flip_filters else W[i, 0]
        tile = np.kron(_normalized(f), np.ones((scale, scale)))
        top, left = pad + r * (6 + pad), pad + c * (4 + pad)
        np.testing.assert_allclose(m[top : top + 6, left : left + 4], tile)
        expected_bg[top : top + 6, left : left + 4] = False
    expected_bg[pad + 8 : pad + 14, pad + 12 : pad + 16] = False  # the unused sixth slot
    assert (m[expected_bg] == 1.0).all()


def test_filter_mosaic_colour_and_multichannel_layouts():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(4, 3, 2, 2))
    m = visualize.filter_mosaic(W, padding=1)
    assert m.shape == (2 * 3 + 1, 2 * 3 + 1, 3)
    np.testing.assert_allclose(m[1:3, 4:6], _normalized(W[1]).transpose(1, 2, 0))
    grey = visualize.filter_mosaic(W, padding=1, color=False, normalize="all")
    assert grey.shape == (4 * 3 + 1, 3 * 3 + 1)  # one row per filter, one column per channel
    lo, hi = W.min(), W.max()
    np.testing.assert_allclose(grey[4:6, 7:9], (W[1, 2] - lo) / (hi - lo))
    raw = visualize.filter_mosaic(np.full((1, 1, 2, 2), 0.25), normalize=None, padding=0)
    np.testing.assert_allclose(raw, 0.25)


def test_filter_mosaic_errors():
    W = np.zeros((2, 3, 2, 2))
    with pytest.raises(ValueError, match="normalize: expected 'filter', 'all' or None, "):
        visualize.filter_mosaic(W, normalize="max")
    with pytest.raises(ValueError, match="color=True: expected filters with 3 input channels, "):
        visualize.filter_mosaic(np.zeros((2, 1, 2, 2)), color=True)
    with pytest.raises(
        ValueError,
        match=r"filters: expected a layer or a numeric array of "
        r"shape \(num_filters, channels, rows, cols\), received ndarray of shape "
        r"\(2, 2\)",
    ):
        visualize.filter_mosaic(np.zeros((2, 2)))
    for argname in ("scale", "padding"):  # a bool is no size
        with pytest.raises(ValueError, match=rf"{argname}: expected an int >= ., received True"):
            visualize.filter_mosaic(W, **{argname: True})
    l_in = InputLayer((None, 1, 5, 5))
    conv = Conv2DLayer(l_in, 2, 3, name="conv1")
    net = DenseLayer(conv, 3, name="fc")
    with pytest.raises(
        ValueError,
        match=r"expected a layer with 4-d filters W .* received "
        r"DenseLayer 'fc'; the first in this network is Conv2DLayer 'conv1'",
    ):
        visualize.plot_filters(net)


def test_plot_filters_png_is_the_mosaic_pixel_for_pixel(tmp_path):
    W = np.random.default_rng(2).normal(size=(6, 3, 5, 5))
    path = tmp_path / "filters.png"
    visualize.plot_filters(W, path, scale=3, padding=1)
    expected = visualize.filter_mosaic(W, scale=3, padding=1)
    assert expected.shape == (2 * 16 + 1, 3 * 16 + 1, 3)
    pixels = _png_array(path)
    assert pixels.shape == expected.shape
    assert np.abs(pixels.astype(float) - expected * 255).max() <= 1.0


def test_plot_filters_grey_and_show(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(True))
    W = np.random.default_rng(3).normal(size=(10, 1, 4, 4))
    fig = visualize.plot_filters(W, tmp_path / "grey.png", scale=5, show=True)
    plt.close(fig)
    assert shown == [True]
    pixels = _png_array(tmp_path / "grey.png")
    expected = visualize.filter_mosaic(W, scale=5)
    assert pixels.shape[:2] == expected.shape == (3 * 21 + 1, 4 * 21 + 1)
    assert (pixels[..., 0] == pixels[..., 1]).all()  # grey
    assert np.abs(pixels[..., 0] - expected * 255).max() <= 2.0  # a 256-entry colour map


# --------------------------------------------------------------------------------------
# feature maps
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_cnn():
    rng = np.random.default_rng(4)
    W = rng.normal(size=(3, 2, 3, 3))
    W[2] = -np.abs(W[2])  # on positive images, filter 2 with a negative bias never fires
    b = np.array([0.1, -0.2, -0.5])
    with pytensor.config.change_flags(floatX="float64"):
        l_in = InputLayer((None, 2, 7, 7), name="in")
        conv = Conv2DLayer(l_in, 3, 3, W=W, b=b, flip_filters=False, name="conv")
        pool = MaxPool2DLayer(conv, 2, name="pool")
        net = DenseLayer(pool, 4, W=rng.normal(size=(12, 4)), nonlinearity=softmax, name="out")
    images = rng.uniform(0.0, 1.0, size=(5, 2, 7, 7))
    return {"in": l_in, "conv": conv, "pool": pool, "net": net, "W": W, "b": b, "X": images}


def test_get_feature_maps_matches_scipy_correlate(small_cnn):
    maps = visualize.get_feature_maps(small_cnn["conv"], small_cnn["X"], batch_size=2)
    assert maps.shape == (5, 3, 5, 5)
    W, b = small_cnn["W"], small_cnn["b"]
    for n, x in enumerate(small_cnn["X"]):
        for o in range(3):
            z = correlate(x, W[o], mode="valid")[0] + b[o]
            np.testing.assert_allclose(maps[n, o], np.maximum(z, 0), rtol=1e-10, atol=1e-12)


def test_plot_feature_maps(small_cnn, tmp_path):
    path = tmp_path / "maps.png"
    fig = visualize.plot_feature_maps(small_cnn["conv"], small_cnn["X"][0], path)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0] == "input" and len(titles) == 4
    assert titles[3] == "#2 max 0"  # the dead filter
    with Image.open(path) as im:
        assert im.format == "PNG" and 200 <= im.size[0] <= 1000 and 200 <= im.size[1] <= 1000
    with pytest.raises(
        ValueError,
        match=r"expected a layer whose output has shape \(batch, "
        r"channels, rows, cols\), received DenseLayer 'out' with output shape "
        r"\(None, 4\)",
    ):
        visualize.plot_feature_maps(small_cnn["net"], small_cnn["X"][0])
    with pytest.raises(ValueError, match="image: expected one image, received a batch of 5"):
        visualize.plot_feature_maps(small_cnn["conv"], small_cnn["X"])


# --------------------------------------------------------------------------------------
# distributions and statistics
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlp():
    rng = np.random.default_rng(5)
    W1 = np.abs(rng.normal(size=(3, 4)))
    W1[:, 1] = -1.0  # unit 1 is dead on positive inputs, the others are not
    W2 = rng.normal(size=(4, 5)) * 4  # large weights: the sigmoid saturates
    W3 = rng.normal(size=(5, 2))
    with pytensor.config.change_flags(floatX="float64"):
        l_in = InputLayer((None, 3))
        h1 = DenseLayer(l_in, 4, W=W1, name="h1")
        h2 = DenseLayer(h1, 5, W=W2, nonlinearity=sigmoid, name="h2")
        out = DenseLayer(h2, 2, W=W3, nonlinearity=tanh, name="out")
    X = rng.uniform(0.0, 2.0, size=(40, 3))
    return {"net": out, "W": (W1, W2, W3), "X": X}


def test_layer_statistics_against_numpy(mlp):
    W1, W2, W3 = mlp["W"]
    X = mlp["X"]
    a1 = np.maximum(X @ W1, 0)
    a2 = 1 / (1 + np.exp(-(a1 @ W2)))
    a3 = np.tanh(a2 @ W3)
    stats = visualize.layer_statistics(mlp["net"], X, tolerance=0.02)
    names = [s.layer_name for s in stats]
    assert names == ["DenseLayer 'h1'", "DenseLayer 'h2'", "DenseLayer 'out'"]
    s1, s2, s3 = stats
    assert s1.nonlinearity == "rectify" and s1.num_params == 3 * 4 + 4
    assert s1.dead_fraction == np.mean(a1.max(axis=0) <= 0) == 0.25
    assert s1.inactive_fraction == pytest.approx(np.mean(a1 <= 0))
    assert s1.saturated_fraction is None
    assert s2.dead_fraction is None
    assert s2.saturated_fraction == pytest.approx(np.mean((a2 <= 0.02) | (a2 >= 0.98)))
    assert s2.saturated_fraction > 0.1
    assert s3.saturated_fraction == pytest.approx(np.mean(np.abs(a3) >= 0.98))
    for s, a, W in ((s1, a1, W1), (s2, a2, W2), (s3, a3, W3)):
        assert s.weight_mean == pytest.approx(W.mean()) and s.weight_std == pytest.approx(W.std())
        assert s.activation_mean == pytest.approx(a.mean())
        assert s.activation_max == pytest.approx(a.max())
    weights_only = visualize.layer_statistics(mlp["net"])
    assert weights_only[0].weight_mean == s1.weight_mean
    assert weights_only[0].activation_mean is None and weights_only[0].dead_fraction is None


def test_layer_statistics_dead_conv_channels(small_cnn):
    stats = visualize.layer_statistics(small_cnn["net"], small_cnn["X"])
    conv = stats[0]
    assert conv.layer_name == "Conv2DLayer 'conv'"
    maps = visualize.get_feature_maps(small_cnn["conv"], small_cnn["X"])
    assert conv.dead_fraction == np.mean(maps.max(axis=(0, 2, 3)) <= 0) == 1 / 3
    assert stats[1].layer_name == "MaxPool2DLayer 'pool'" and stats[1].dead_fraction is None


def test_distribution_plots(mlp, tmp_path):
    fig = visualize.plot_weight_distributions(mlp["net"], tmp_path / "w.png")
    assert (tmp_path / "w.png").read_bytes()[:8] == PNG_MAGIC
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 3 and titles[0].startswith("DenseLayer 'h1'\nmean ")
    fig = visualize.plot_activation_distributions(mlp["net"], mlp["X"], tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG_MAGIC
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert "dead 1/4 units" in titles[0]
    assert "saturated" in titles[1] and "saturated" in titles[2]
    with Image.open(tmp_path / "a.png") as im:
        assert im.size == (round(3 * 3.4 * 100), round(2.5 * 100))


def test_missing_matplotlib_says_what_to_install(mlp, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(
        ImportError,
        match=r"convnet.visualize.plot_weight_distributions needs "
        r"matplotlib, which is not installed: pip install matplotlib",
    ):
        visualize.plot_weight_distributions(mlp["net"])


# --------------------------------------------------------------------------------------
# layer graph
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def branched():
    l_in = InputLayer((None, 1, 8, 8), name="in")
    a = Conv2DLayer(l_in, 4, 3, pad="same", name="a")
    b = Conv2DLayer(l_in, 2, 5, pad="same", name="b")
    pool = MaxPool2DLayer(b, 1, name="b_pool")
    cat = ConcatLayer([a, pool], name="cat")
    out = DenseLayer(cat, 10, nonlinearity=softmax, name="out")
    return {"in": l_in, "a": a, "b": b, "pool": pool, "cat": cat, "out": out}


def test_network_to_dot_lists_every_layer_and_edge(branched):
    dot = visualize.network_to_dot(branched["out"], rankdir="LR")
    lines = dot.splitlines()
    assert lines[0] == "digraph network {" and lines[-1] == "}" and "rankdir=LR;" in dot
    nodes = {line.split()[0]: line for line in lines if "[label=" in line}
    ids = {
        key: next(i for i, t in nodes.items() if f'"{layer.name}: ' in t)
        for key, layer in branched.items()
    }
    assert len(nodes) == 6
    edges = {line.strip().rstrip(";") for line in lines if "->" in line}
    expected = {("in", "a"), ("in", "b"), ("b", "pool"), ("a", "cat"), ("pool", "cat")}
    expected.add(("cat", "out"))
    assert edges == {f"{ids[p]} -> {ids[c]}" for p, c in expected}
    assert "cat: ConcatLayer\\n(?, 6, 8, 8)" in nodes[ids["cat"]]
    assert "out: DenseLayer\\n(?, 10) softmax, 3,850 params" in nodes[ids["out"]]
    with pytest.raises(ValueError, match="rankdir: expected one of 'TB', 'LR', received 'BT'"):
        visualize.network_to_dot(branched["out"], rankdir="BT")


def test_plot_network_places_branches_side_by_side(branched, tmp_path):
    fig = visualize.plot_network(branched["out"], tmp_path / "net.png")
    assert (tmp_path / "net.png").read_bytes()[:8] == PNG_MAGIC
    boxes = [t for t in fig.axes[0].texts if t.get_text()]  # the arrows have no text
    pos = {t.get_text().split(":")[0]: t.get_position() for t in boxes}
    assert set(pos) == {"in", "a", "b", "b_pool", "cat", "out"}
    assert pos["a"][1] == pos["b"][1] and pos["a"][0] != pos["b"][0]  # one row, two columns
    rows = [pos[k][1] for k in ("in", "b", "b_pool", "cat", "out")]
    assert rows == sorted(rows, reverse=True) and len(set(rows)) == 5  # top to bottom
    assert len([p for p in fig.axes[0].patches]) == 6
    with pytest.raises(TypeError, match="layer: expected a convnet Layer"):
        visualize.plot_network("net")


def test_plot_filters_of_a_layer_has_a_title_strip(tmp_path):
    l_in = InputLayer((None, 3, 8, 8))
    conv = Conv2DLayer(l_in, 6, 5, name="conv1")
    path = tmp_path / "conv1.png"
    fig = visualize.plot_filters(conv, path, scale=3, padding=1)
    assert [t.get_text() for t in fig.texts] == ["Conv2DLayer 'conv1': 6 filters 3x5x5"]
    expected = visualize.filter_mosaic(conv, scale=3, padding=1)
    pixels = _png_array(path)
    height, width = expected.shape[:2]
    assert pixels.shape[0] == height + 14 and pixels.shape[1] >= width
    # the mosaic sits below the strip, pixel for pixel, at the left edge
    below = pixels[14:, :width]
    assert np.abs(below.astype(float) - expected * 255).max() <= 1.0
    custom = visualize.plot_filters(conv, tmp_path / "t.png", title="first layer")
    assert [t.get_text() for t in custom.texts] == ["first layer"]
    assert visualize.plot_filters(conv, tmp_path / "n.png", title="").texts == []
