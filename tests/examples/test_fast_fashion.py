"""examples/fast_fashion.py on small IDX files in the official format: the budget is kept,
the curve is time-stamped and saved, and --without takes ingredients out."""

import gzip
import importlib
import json
import time

import numpy as np
import pytest

from convnet import layers
from tests.datasets.dataset_builders import idx_bytes


@pytest.fixture(scope="module")
def fast():
    return importlib.import_module("fast_fashion")


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    """Class k is a bright bar at rows 2k+3..2k+5 of noisy 28x28 images."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("idx")
    for prefix, n in (("train", 900), ("t10k", 200)):
        y = rng.integers(0, 10, n).astype(np.uint8)
        X = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(y):
            X[i, 2 * label + 3 : 2 * label + 5, 4:24] = 255
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(X)))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(y)))
    return folder


def test_a_run_keeps_its_budget_and_saves_its_curve(fast, idx_dir, tmp_path, capsys):
    start = time.perf_counter()
    budget = 0.5  # minutes: compiling takes a few seconds, an epoch of 900 images about one
    result = fast.main(
        [
            "--data-dir",
            str(idx_dir),
            "--budget-minutes",
            str(budget),
            "--eval-every-epoch",
            "--plot",
            str(tmp_path / "curve.png"),
            "--json",
            str(tmp_path / "result.json"),
        ],
        start=start,
    )
    took = time.perf_counter() - start
    assert took <= budget * 60 + 5  # the reserve covers the final evaluation
    assert result["total_seconds"] <= budget * 60
    assert result["accuracy"] > 0.9  # the bars are easy
    assert result["tta"] == "flip" and 0 <= result["accuracy_without_tta"] <= 1
    curve = result["curve"]
    assert len(curve) == result["epochs"] >= 2
    assert [p["epoch"] for p in curve] == list(range(1, len(curve) + 1))
    seconds = [p["seconds"] for p in curve]
    assert seconds == sorted(seconds) and seconds[-1] <= result["total_seconds"]
    assert all(0 <= p["held_out_acc"] <= 1 for p in curve)
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "result.json").read_text())["accuracy"] == result["accuracy"]
    out = capsys.readouterr().out
    assert "900 training images" in out and "without: nothing" in out
    assert f"epoch {len(curve)}: loss" in out and "held-out acc" in out


def test_validate_holds_out_part_of_the_training_set(fast, idx_dir):
    (X, y), (Xv, yv) = fast.load_data(idx_dir, validate=True)
    assert len(X) == 750 and len(Xv) == 150  # a sixth of 900
    assert X.dtype == np.float32 and abs(float(X.mean())) < 1e-3
    (X2, y2), (Xt, _) = fast.load_data(idx_dir)
    assert len(X2) == 900 and len(Xt) == 200
    np.testing.assert_array_equal(y, y2[:750])  # the first images train, the last validate
    np.testing.assert_array_equal(yv, y2[750:])


def test_without_takes_ingredients_out(fast):
    full = fast.build_network()
    bare = fast.build_network(without=("batch_norm", "dropout"))
    kinds = lambda net: {type(layer).__name__ for layer in layers.get_all_layers(net)}  # noqa: E731
    assert {"BatchNormLayer", "DropoutLayer"} <= kinds(full)
    assert not {"BatchNormLayer", "DropoutLayer"} & kinds(bare)
    args = fast.parse_args(["--without", "tta, dropout", "--set", "crop_padding=2"])
    assert args.without == ("tta", "dropout") and args.recipe == {"crop_padding": 2}
    with pytest.raises(SystemExit):
        fast.parse_args(["--set", "momentum"])
    with pytest.raises(ValueError, match=r"--without: unknown ingredients \['mixup'\]"):
        fast.run(None, None, full, without=("mixup",))
