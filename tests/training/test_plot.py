"""convnet.visualize.plot_history: a figure (saved as a PNG on request) with train and
validation curves."""

import io
import sys

import numpy as np
import pytest
from matplotlib.image import imread

from convnet.training import History
from convnet.visualize import plot_history

BLUE = np.array([31, 119, 180]) / 255  # matplotlib's C0: training curves
ORANGE = np.array([255, 127, 14]) / 255  # C1: validation curves


def colour_pixels(image, colour):
    return int((np.abs(image[..., :3] - colour).max(axis=-1) < 0.02).sum())


def history():
    h = History()
    for e, (l, vl, a, va) in enumerate(
        [(1.2, 1.0, 0.5, 0.6), (0.8, 0.9, 0.7, 0.65), (0.5, 0.95, 0.8, 0.66)], start=1
    ):
        h.append(e, {"loss": l, "val_loss": vl, "acc": a, "val_acc": va, "lr": 0.1})
    return h


def test_writes_two_panels_with_both_curves(tmp_path):
    path = tmp_path / "curves.png"
    fig = plot_history(history(), path, title="run")
    assert len(fig.axes) == 2 and fig.get_suptitle() == "run"
    image = imread(path)
    assert image.shape[:2] == (380, 1000)  # two 5 x 3.8 inch panels at 100 dpi
    left, right = image[:, :500], image[:, 500:]
    for panel in (left, right):
        assert colour_pixels(panel, BLUE) > 100
        assert colour_pixels(panel, ORANGE) > 100


def test_dict_input_and_missing_metrics(tmp_path):
    path = tmp_path / "loss.png"
    plot_history({"loss": [1.0, 0.5, 0.25]}, path, dpi=50)
    image = imread(path)
    assert image.shape[:2] == (190, 250)  # one panel: no accuracy recorded
    assert colour_pixels(image, BLUE) > 20 and colour_pixels(image, ORANGE) == 0
    with pytest.raises(
        ValueError,
        match=r"holds none of the metrics \['acc'\]; it has "
        r"\['loss'\]",
    ):
        plot_history({"loss": [1.0]}, tmp_path / "x.png", metrics=["acc"])
    with pytest.raises(
        TypeError, match="expected a History or a dict of metric lists, received list"
    ):
        plot_history([1, 2], tmp_path / "x.png")


def test_returns_the_figure_without_saving_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fig = plot_history(history())
    assert list(tmp_path.iterdir()) == []
    [train, val] = fig.axes[0].get_lines()[:2]
    np.testing.assert_allclose(train.get_ydata(), [1.2, 0.8, 0.5])
    np.testing.assert_allclose(val.get_ydata(), [1.0, 0.9, 0.95])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue()[:4] == b"\x89PNG"


def test_clear_message_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(
        ImportError,
        match=r"plot_history needs matplotlib, which is not "
        r"installed: pip install matplotlib",
    ):
        plot_history(history(), tmp_path / "x.png")
