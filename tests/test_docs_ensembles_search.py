"""The code blocks of docs/guide/ensembles_search.rst run as written (a docs test).

The guide's blocks name what a reader brings along: trained trainers and data splits,
``build_vgg16`` and its model-zoo file, ``make_trainer`` for one configuration of a search.
The test supplies small stand-ins for these and runs the blocks in order, in one namespace,
in a temporary folder. Two things are cut down, and only those: the random search runs 2
trials in this process instead of 50 in worker processes (``trial`` is defined here, where
worker processes cannot import it), and the Dask block runs 2 trials instead of 500, in
the slow suite, with the address of its own ``LocalCluster`` in place of the remote
scheduler's (tests/test_search.py compares Dask's table with the other executors').
"""

from __future__ import annotations

import pickle

import numpy as np
import pytensor
import pytest

import convnet
from convnet import search
from convnet.layers import DenseLayer, DropoutLayer, InputLayer
from convnet.nonlinearities import softmax
from convnet.training import Trainer
from tests.docs_blocks import GUIDE, code_blocks

PAGE = GUIDE / "ensembles_search.rst"


def images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy 3x8x8 images of 3 classes; class k has a bright channel k."""
    y = rng.integers(0, 3, n).astype("int32")
    X = 0.5 * rng.normal(size=(n, 3, 8, 8))
    X[np.arange(n), y] += 1.0
    return X.astype(pytensor.config.floatX), y


def mlp(num_units: int = 16, dropout: float = 0.0, num_classes: int = 3) -> DenseLayer:
    net = InputLayer((None, 3, 8, 8))
    net = DenseLayer(net, num_units, name="hidden")
    if dropout:
        net = DropoutLayer(net, dropout)
    return DenseLayer(net, num_classes, nonlinearity=softmax, name="output")


def trained(seed: int, X: np.ndarray, y: np.ndarray) -> Trainer:
    convnet.random.set_rng(np.random.RandomState(seed))
    trainer = Trainer(mlp(), update="sgd", learning_rate=0.1)
    trainer.fit(X, y, epochs=3, batch_size=32, seed=seed, progress=False)
    return trainer


def build_vgg16() -> dict:
    """A stand-in for the model-zoo recipe: a dict of named layers, ``prob`` on top."""
    net = {"input": InputLayer((None, 3, 8, 8))}
    net["fc6"] = DenseLayer(net["input"], 16, name="fc6")
    net["fc7"] = DenseLayer(net["fc6"], 16, name="fc7")
    net["fc8"] = DenseLayer(net["fc7"], 10, nonlinearity=None, name="fc8")
    net["prob"] = DenseLayer(net["fc8"], 10, nonlinearity=softmax, name="prob")
    return net


def make_trainer(config: dict, seed: int) -> Trainer:
    convnet.random.set_rng(np.random.RandomState(seed))
    net = mlp(num_units=config["num_filters"], dropout=config["dropout"])
    return Trainer(
        net,
        learning_rate=config["learning_rate"],
        regularization={"l2": config["weight_decay"]},
    )


@pytest.fixture
def quick_random_search(monkeypatch):
    """``convnet.search.random_search`` with 2 trials, run in this process (on the executor
    given, if it is not the default: local worker processes)."""
    real = search.random_search
    calls = []

    def random_search(fn, space, n_trials, seed=0, **kwargs):
        calls.append((n_trials, kwargs))
        return real(fn, space, 2, seed, **{"executor": "serial", **kwargs})

    monkeypatch.setattr(search, "random_search", random_search)
    return calls


def data_splits() -> dict:
    rng = np.random.default_rng(0)
    X_train, y_train = images(192, rng)
    X_val, y_val = images(96, rng)
    X_test, y_test = images(96, rng)
    return {
        **dict(X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val),
        **dict(X_test=X_test, y_test=y_test, X=X_train, y=y_train),
    }


def test_the_guide_runs(tmp_path, monkeypatch, capsys, seeded_rng, quick_random_search):
    blocks = code_blocks(PAGE)
    assert len(blocks) == 5
    ensemble, fine_tuning, features, search_block, dask_block = blocks
    assert "Client(" in dask_block.code and "random_search" in dask_block.code

    splits = data_splits()
    X_train, y_train, y_test = splits["X_train"], splits["y_train"], splits["y_test"]
    monkeypatch.chdir(tmp_path)
    zoo_values = [p.get_value() for p in convnet.layers.get_all_params(build_vgg16()["prob"])]
    with open("vgg16.pkl", "wb") as f:  # a model-zoo file, as Python 2 wrote them
        pickle.dump({"param values": zoo_values}, f, protocol=2)
    scope = {
        "trainer_a": trained(1, X_train, y_train),
        "trainer_b": trained(2, X_train, y_train),
        "trainer_c": trained(3, X_train, y_train),
        **splits,
        "build_vgg16": build_vgg16,
        "make_trainer": make_trainer,
    }
    for block in (ensemble, fine_tuning, features, search_block):
        block.run(scope)

    # ensembles: the weighted mean of three trainers, its weights learnt on validation data
    assert scope["ens"].weights_.shape == (3,) and scope["y_pred"].shape == y_test.shape
    assert "weighted mean" in capsys.readouterr().out
    # fine-tuning: the pretrained values are loaded, the new head alone trains when frozen
    net, head = scope["net"], scope["head"]
    np.testing.assert_array_equal(net["fc7"].W.get_value(), zoo_values[2])
    assert [p.name for p in scope["params"]] == ["head.W", "head.b"]
    assert [p.name for p in scope["new"]] == ["head.W", "head.b"]
    assert len(scope["pretrained"]) == 4 and scope["pretrained"][0] in scope["updates"]
    assert head.output_shape == (None, 5)
    # features of fc7 feed a linear SVM
    assert scope["F_train"].shape == (192, 16)
    # the search: its arguments reach random_search, every trial reports validation accuracy
    assert quick_random_search == [
        (
            50,
            {"metric": "val_accuracy", "patience": 3, "results_file": "search.jsonl"},
        )
    ]
    result = scope["result"]
    assert len(result) == 2 and all(r["status"] in ("ok", "stopped") for r in result.records)
    assert set(result.best_config) == set(scope["space"])
    assert "val_accuracy" in result.best["metrics"]
    assert len((tmp_path / "search.jsonl").read_text().splitlines()) == 2


@pytest.mark.slow  # a LocalCluster of two worker processes, each compiling a trial: 10-60 s
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")  # the dashboard moves
def test_the_dask_block_runs_on_a_local_cluster(tmp_path, monkeypatch, quick_random_search):
    pytest.importorskip("distributed")
    search_block, dask_block = code_blocks(PAGE)[3:]
    monkeypatch.chdir(tmp_path)
    scope = {**data_splits(), "make_trainer": make_trainer}
    search_block.run(scope)  # defines trial and space (2 serial trials)
    code = dask_block.code.replace(
        'client = Client("tcp://scheduler-host:8786")',
        "client = Client(client.scheduler.address)",  # the stand-in for an existing cluster
    )
    assert code != dask_block.code
    try:
        exec(compile(code, str(PAGE), "exec"), scope)
        client = scope["client"]
        assert len(client.scheduler_info()["workers"]) == 2
        assert quick_random_search[-1] == (
            500,
            {"metric": "val_accuracy", "patience": 3, "executor": client},
        )
        result = scope["result"]
        assert len(result) == 2 and all(r["status"] in ("ok", "stopped") for r in result.records)
        assert all("val_accuracy" in r["metrics"] for r in result.records)
        assert set(result.best_config) == set(scope["space"])
    finally:
        if "client" in scope:
            cluster = scope["client"].cluster
            scope["client"].close()
            if cluster is not None:
                cluster.close()
