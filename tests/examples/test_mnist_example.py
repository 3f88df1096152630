"""examples/mnist.py end to end on small IDX files written in the official format."""

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import convnet
from tests.datasets.dataset_builders import idx_bytes

ROOT = Path(__file__).resolve().parents[2]


def _load_example():
    spec = importlib.util.spec_from_file_location("mnist_example", ROOT / "examples" / "mnist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mnist():
    return _load_example()


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    """A learnable Fashion-MNIST stand-in: class k is a bright bar at rows 2k..2k+2."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("idx")
    for prefix, n in (("train", 1200), ("t10k", 200)):
        y = rng.integers(0, 10, n).astype(np.uint8)
        X = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(y):
            X[i, 2 * label + 3 : 2 * label + 5, 4:24] = 255
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(X)))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(y)))
    return folder


def test_cnn_learns_and_plots(mnist, idx_dir, tmp_path):
    plot = tmp_path / "curves.png"
    result = mnist.main(
        "cnn",
        num_epochs=3,
        data_dir=idx_dir,
        batch_size=32,
        learning_rate=0.01,
        plot=str(plot),
        verbose=False,
        progress=False,
    )
    assert result["test_accuracy"] >= 0.9
    assert len(result["history"]) == 3
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_continues_where_the_last_run_stopped(mnist, idx_dir, tmp_path):
    common = dict(data_dir=idx_dir, batch_size=64, verbose=False, progress=False)
    straight = mnist.main("custom_mlp:1,32,0,0", num_epochs=2, **common)
    ckpt = tmp_path / "run.h5"
    mnist.main("custom_mlp:1,32,0,0", num_epochs=1, checkpoint=str(ckpt), **common)
    resumed = mnist.main(
        "custom_mlp:1,32,0,0", num_epochs=2, checkpoint=str(ckpt), resume=True, **common
    )
    assert len(resumed["history"]) == 2
    for a, b in zip(
        convnet.layers.get_all_param_values(straight["network"]),
        convnet.layers.get_all_param_values(resumed["network"]),
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_unknown_model_is_named(mnist):
    with pytest.raises(ValueError, match="--model must be .* received 'resnet'"):
        mnist.build_model("resnet", None)


@pytest.mark.slow
def test_tensorboard_logs_the_run(mnist, idx_dir, tmp_path):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    pytest.importorskip("tensorboardX")
    log_dir = tmp_path / "runs"
    mnist.main(
        "custom_mlp:1,16,0,0",
        num_epochs=1,
        data_dir=idx_dir,
        batch_size=64,
        limit=256,
        tensorboard=str(log_dir),
        verbose=False,
        progress=False,
    )
    events = accumulator.EventAccumulator(str(log_dir))
    events.Reload()
    tags = events.Tags()
    assert {"batch/loss", "epoch/val_acc", "epoch/images_per_s"} <= set(tags["scalars"])
    assert {"weights/hid1/W", "gradients/hid1/W", "gradients/out/b"} <= set(tags["histograms"])


def test_command_line_takes_tensorboard_and_download(mnist):
    args = mnist.parse_args(["--tensorboard", "runs/x", "--download"])
    assert args.tensorboard == "runs/x" and args.download
