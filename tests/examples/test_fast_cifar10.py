"""examples/fast_cifar10.py on a small CIFAR-10 archive in the official format."""

import importlib
import time

import numpy as np
import pytest

from convnet import layers


@pytest.fixture(scope="module")
def fast_cifar10():
    return importlib.import_module("fast_cifar10")


def test_the_network_is_the_airbench_layout(fast_cifar10):
    net = fast_cifar10.build_network()
    convs = [la for la in layers.get_all_layers(net) if isinstance(la, layers.Conv2DLayer)]
    assert [c.num_filters for c in convs] == [32, 64, 64, 256, 256, 256, 256]
    assert net.output_shape == (None, 10)
    assert layers.get_output_shape(net, (5, 3, 32, 32)) == (5, 10)
    bare = fast_cifar10.build_network(without=("batch_norm", "dropout"))
    kinds = {type(la).__name__ for la in layers.get_all_layers(bare)}
    assert not kinds & {"BatchNormLayer", "DropoutLayer"}


def test_a_short_run_on_the_official_format(fast_cifar10, cifar10_dir, tmp_path):
    start = time.perf_counter()
    result = fast_cifar10.main(
        [
            "--data-dir",
            str(cifar10_dir),
            "--budget-minutes",
            "0.6",
            "--validate",
            "--plot",
            str(tmp_path / "c.png"),
        ],
        start=start,
    )
    assert time.perf_counter() - start <= 0.6 * 60 + 5
    assert result["epochs"] >= 1 and 0 <= result["accuracy"] <= 1
    assert result["tta"] == "flip" and (tmp_path / "c.png").stat().st_size > 1000
    (X, y), (Xv, yv) = fast_cifar10.load_data(cifar10_dir, validate=True)
    assert X.shape[1:] == (3, 32, 32) and len(Xv) == 200 // 6
    np.testing.assert_allclose(X.mean(axis=(0, 2, 3)), 0, atol=1e-3)
