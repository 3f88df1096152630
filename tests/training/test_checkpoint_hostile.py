"""Crafted and mismatching checkpoints (issue 13, points 5 and 9): load_checkpoint checks
everything before it assigns anything, and every failure is a ValueError naming the file."""

import json

import h5py
import numpy as np
import pytest


@pytest.fixture(scope="module")
def good_checkpoint(trainers, data, tmp_path_factory):
    """A checkpoint written after one epoch of the main trainer."""
    X, y, _, _ = data
    trainer = trainers.get("main")
    trainer.fit(X, y, epochs=1, batch_size=16, seed=0, progress=False)
    path = tmp_path_factory.mktemp("ck") / "good.h5"
    trainer.save_checkpoint(str(path))
    return path


def _state(trainer):
    """Everything load_checkpoint may change, copied."""
    c = trainer._compiled
    storage = [np.array(cont.storage[0], copy=True) for _, cont, _ in c.entries
               if not isinstance(cont.storage[0], dict | np.random.Generator)]  # fmt: skip
    return (
        [p.copy() for p in trainer.get_param_values()],
        storage,
        trainer.epoch,
        trainer.batch_in_epoch,
        trainer.global_step,
        trainer.history.to_dict(),
        trainer._rng,
    )


def _same(a, b):
    assert all(np.array_equal(x, y) for x, y in zip(a[0], b[0]))
    assert len(a[1]) == len(b[1]) and all(np.array_equal(x, y) for x, y in zip(a[1], b[1]))
    assert a[2:] == b[2:]


def _edit_doc(path, edit):
    with h5py.File(path, "a") as f:
        doc = json.loads(f["training/state"][()].tobytes())
        edit(doc, f)
        del f["training/state"]
        f["training/state"] = np.frombuffer(json.dumps(doc).encode(), np.uint8)


def _optimiser_array(doc):
    for entry in doc["variables"]:
        if (
            entry["kind"] != "param"
            and isinstance(entry["value"], dict)
            and "__array__" in entry["value"]
        ):
            return str(entry["value"]["__array__"])
    raise AssertionError("no optimiser state array")


def _wrong_shape(doc, f):
    key = _optimiser_array(doc)
    old = f["training/arrays"][key][()]
    del f["training/arrays"][key]
    f["training/arrays"][key] = np.zeros(old.shape + (2,), old.dtype)


def _wrong_dtype(doc, f):
    key = _optimiser_array(doc)
    old = f["training/arrays"][key][()]
    del f["training/arrays"][key]
    f["training/arrays"][key] = np.zeros(old.shape, np.int64)


def _bad_rng(doc, f):
    doc["rng"] = {"bit_generator": "PCG64", "state": {"state": "x", "inc": 1}}


def _bad_history(doc, f):
    doc["history"] = {"epoch": [1, 2], "history": {"loss": [0.5]}}


def _bad_epoch(doc, f):
    doc["epoch"] = -3


def _missing_array(doc, f):
    doc["variables"][0]["value"] = {"__array__": 10**6}


def _missing_key(doc, f):
    del doc["global_step"]


def _bad_target(doc, f):
    doc["target"] = {"dtype": "object", "ndim": 1}


def _sums_without_loss(doc, f):
    # a mid-epoch state whose running sums lack the loss: loaded, it failed at the next fit
    doc["batch_in_epoch"] = 2
    doc["epoch_state"] = {
        "start_rng": doc["rng"],
        "data_state": None,
        "sums": {"acc": 0.5, "n": 32},
        "elapsed": 1.0,
    }


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (_wrong_shape, "has shape .* in this trainer but"),
        (_wrong_dtype, "has dtype float32 in this trainer but int64"),
        (_bad_rng, "holds an invalid PCG64 state"),
        (_bad_history, "expected history"),
        (_bad_epoch, "expected epoch to be an integer >= 0, found -3"),
        (_missing_array, "refers to array 1000000"),
        (_missing_key, "with global_step"),
        (_bad_target, "expected target"),
        (
            _sums_without_loss,
            r"expected epoch_state = \{'start_rng', 'sums': \{'loss', 'acc', 'n'\}",
        ),
    ],
)
def test_failed_load_changes_nothing(trainers, data, good_checkpoint, tmp_path, edit, match):
    # Parameters were overwritten before the optimiser state, RNG, history and epoch were
    # checked; crafted files gave IndexError/KeyError.
    path = tmp_path / "bad.h5"
    path.write_bytes(good_checkpoint.read_bytes())
    _edit_doc(path, edit)
    trainer = trainers.get("main")
    X, y, _, _ = data
    trainer.fit(X[:32], y[:32], epochs=1, batch_size=16, seed=1, progress=False)
    before = _state(trainer)
    with pytest.raises(ValueError, match=match) as info:
        trainer.load_checkpoint(str(path))
    assert str(path) in str(info.value)
    _same(before, _state(trainer))
    # and the good checkpoint still loads into the same trainer
    trainer.load_checkpoint(str(good_checkpoint))
    assert trainer.epoch == 1


def test_crafted_checkpoint_attributes(trainers, good_checkpoint, tmp_path):
    path = tmp_path / "bad.h5"
    path.write_bytes(good_checkpoint.read_bytes())
    with h5py.File(path, "a") as f:
        f.attrs["checkpoint_version"] = "two"
    with pytest.raises(ValueError, match="'checkpoint_version' of '/' should be an integer"):
        trainers.get("main").load_checkpoint(str(path))


def test_damaged_architecture_record_is_refused(tmp_path, tinynet):
    # A renamed key ("clas3") became a KeyError while load_checkpoint described the first
    # differing layer (found by the fuzzer in parameter files, which share the record).
    from convnet.training.checkpoint import read_checkpoint, write_checkpoint

    path = tmp_path / "c.h5"
    write_checkpoint(str(path), tinynet.build_net(), {"epoch": 1})
    with h5py.File(path, "a") as f:
        arch = json.loads(f["architecture"][()].tobytes())
        arch[1]["clas3"] = arch[1].pop("class")
        del f["architecture"]
        f["architecture"] = np.frombuffer(json.dumps(arch).encode(), np.uint8)
    with pytest.raises(ValueError, match=rf"'{path}': its architecture record: layer 1 has no"):
        read_checkpoint(str(path))
