import collections
import io
import os
import pickle
import sys

import numpy as np
import pytest
from dataset_builders import py2_pickle

from convnet.datasets.safe_pickle import NUMPY_ARRAY_GLOBALS, UnsafePickleError, restricted_load


class _WritesMarker:
    """Unpickling this calls os.system to create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evals:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_malicious_reduce_is_refused_and_not_run(tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"data": [_WritesMarker(marker)]}, protocol=protocol)
    # The payload works: plain pickle runs the command.
    pickle.loads(payload)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(UnsafePickleError, match=r"asks for the global '(posix|nt)\.system'"):
        restricted_load(io.BytesIO(payload))
    assert not marker.exists()


def test_eval_and_nested_attribute_names_are_refused():
    with pytest.raises(UnsafePickleError, match="'builtins.eval', which is not allowed"):
        restricted_load(pickle.dumps(_Evals()))
    # Protocol 4 resolves dotted names ("ndarray.tofile") through getattr; only the exact
    # (module, name) pairs of the allow-list may pass.
    payload = b"\x80\x04\x8c\x05numpy\x8c\x0endarray.tofile\x93."
    with pytest.raises(UnsafePickleError, match=r"'numpy\.ndarray\.tofile'"):
        restricted_load(payload)


def test_persistent_ids_are_refused():
    buffer = io.BytesIO()

    class _P(pickle.Pickler):
        def persistent_id(self, obj):
            return "ext" if obj == "x" else None

    _P(buffer, protocol=2).dump(["x"])
    with pytest.raises(UnsafePickleError, match="persistent id \\('ext'\\)"):
        restricted_load(buffer.getvalue())


def test_error_names_the_file(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(print))
    with open(path, "rb") as f, pytest.raises(UnsafePickleError, match=f"'{path}' asks for"):
        restricted_load(f)
    with pytest.raises(UnsafePickleError, match="'archive.tar.gz:x' asks for"):
        restricted_load(pickle.dumps(print), name="archive.tar.gz:x")


@pytest.mark.parametrize("protocol", [3, 4])
def test_plain_data_and_arrays_round_trip(protocol):
    value = {
        "ints": [1, -2, 2**70],
        "floats": (1.5, float("inf")),
        "text": "café",
        "raw": b"\x00\xff",
        "flags": [True, False, None],
        "arrays": [
            np.arange(12, dtype=np.float32).reshape(3, 4),
            np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)),
            np.zeros((0, 5)),
        ],
    }
    loaded = restricted_load(pickle.dumps(value, protocol=protocol), encoding="ASCII")
    assert loaded.keys() == value.keys()
    assert loaded["ints"] == value["ints"] and loaded["text"] == "café"
    assert loaded["raw"] == b"\x00\xff" and loaded["flags"] == value["flags"]
    for got, want in zip(loaded["arrays"], value["arrays"], strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    assert loaded["arrays"][1].flags.f_contiguous


def test_python2_pickle_with_byte_string_keys():
    # As in the CIFAR batches: Python 2 str keys and data, NumPy 1's module name.
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    payload = py2_pickle({b"data": data, b"labels": [3, 7], b"batch_label": b"training batch 1"})
    assert b"numpy.core.multiarray\n_reconstruct" in payload
    latin1 = restricted_load(payload)
    assert set(latin1) == {"data", "labels", "batch_label"}
    np.testing.assert_array_equal(latin1["data"], data)
    as_bytes = restricted_load(payload, encoding="bytes")
    assert set(as_bytes) == {b"data", b"labels", b"batch_label"}
    np.testing.assert_array_equal(as_bytes[b"data"], data)
    assert as_bytes[b"labels"] == [3, 7]


def test_allowed_globals_can_be_extended():
    value = collections.OrderedDict(w=np.ones(2))
    payload = pickle.dumps(value, protocol=3)
    with pytest.raises(UnsafePickleError, match="'collections.OrderedDict'"):
        restricted_load(payload)
    allowed = {**NUMPY_ARRAY_GLOBALS, ("collections", "OrderedDict"): collections.OrderedDict}
    loaded = restricted_load(payload, allowed_globals=allowed)
    assert isinstance(loaded, collections.OrderedDict)
    np.testing.assert_array_equal(loaded["w"], np.ones(2))
    # An empty allow-list refuses even arrays.
    with pytest.raises(UnsafePickleError, match="allowed globals: none"):
        restricted_load(pickle.dumps(np.ones(2)), allowed_globals={})


def test_protocol_5_arrays_need_frombuffer_allowed():
    # NumPy pickles arrays with protocol 5 through _frombuffer, which the default (the
    # globals of the CIFAR and Lasagne files) does not hold; allowing it reads them.
    payload = pickle.dumps(np.arange(3), protocol=5)
    with pytest.raises(UnsafePickleError, match=r"'numpy\.(_)?core\.numeric\._frombuffer'"):
        restricted_load(payload)
    frombuffer = np.arange(3).__reduce_ex__(5)[0]
    allowed = {**NUMPY_ARRAY_GLOBALS, (frombuffer.__module__, "_frombuffer"): frombuffer}
    np.testing.assert_array_equal(restricted_load(payload, allowed_globals=allowed), np.arange(3))


def test_truncated_pickle_raises():
    payload = pickle.dumps({"data": np.ones(100)}, protocol=2)
    with pytest.raises((EOFError, pickle.UnpicklingError)):
        restricted_load(payload[: len(payload) // 2])


def test_refusal_is_not_reached_through_sys_modules_tricks():
    # A pickle naming a module that is not imported yet must not import it.
    payload = b"\x80\x02cantigravity\nfly\nq\x00."
    sys.modules.pop("antigravity", None)
    with pytest.raises(UnsafePickleError, match="'antigravity.fly'"):
        restricted_load(payload)
    assert "antigravity" not in sys.modules
