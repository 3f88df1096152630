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


# --------------------------------------------------------------------------------------
# hostile pickles that use only allow-listed globals (issue 13, points 1 and 7)
# --------------------------------------------------------------------------------------

_RECONSTRUCT = np.ndarray.__reduce__(np.empty(0))[0]


class _Dtype:
    """Pickles as numpy.dtype(typestr) with the given __setstate__ state."""

    def __init__(self, typestr, state):
        self.typestr, self.state = typestr, state

    def __reduce__(self):
        return (np.dtype, (self.typestr, False, True), self.state)


class _Array:
    """Pickles as NumPy's _reconstruct(ndarray, (0,), b'b') with the given state."""

    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        return (_RECONSTRUCT, (np.ndarray, (0,), b"b"), self.state)


def _array_with_dtype(dtype, data=b"\x41" * 16, shape=(2,)):
    return pickle.dumps({"data": _Array((1, shape, dtype, False, data))}, protocol=3)


@pytest.mark.parametrize(
    ("dtype", "match"),
    [
        # u8 with the flags of an object dtype: its bytes would be used as pointers
        (_Dtype("u8", (3, "<", None, None, None, -1, -1, 63)), "only the state of a plain"),
        (_Dtype("O8", (3, "|", None, None, None, -1, -1, 63)), "only plain numeric dtypes"),
        (_Dtype("V8", (3, "|", None, None, None, 8, 1, 0)), "only plain numeric dtypes"),
        (_Dtype("u1", (3, "|", ((np.dtype("u1"), (4,))), None, None, -1, -1, 0)), "state"),
        (_Dtype("f4", (3, "<", None, ("a",), {"a": (np.dtype("f4"), 0)}, 4, 1, 16)), "state"),
        # found by tests/fuzz: an array where the byte order goes (was "truth value of an
        # array is ambiguous", a ValueError that did not name the file)
        (_Dtype("f4", (3, np.zeros(2), None, None, None, -1, -1, 0)), "only the state of a"),
    ],
)
def test_crafted_dtype_state_is_refused(dtype, match):
    with pytest.raises(UnsafePickleError, match=match):
        restricted_load(_array_with_dtype(dtype), name="batch")


def test_array_data_must_match_shape_and_dtype():
    good = _Dtype("f8", (3, "<", None, None, None, -1, -1, 0))
    np.testing.assert_array_equal(
        restricted_load(_array_with_dtype(good))["data"], np.frombuffer(b"\x41" * 16, "<f8")
    )
    with pytest.raises(UnsafePickleError, match=r"shape \(3,\) and dtype float64 \(24 bytes\) "):
        restricted_load(_array_with_dtype(good, shape=(3,)))
    with pytest.raises(UnsafePickleError, match="object arrays are refused"):
        restricted_load(_array_with_dtype(good, data=[1, 2]))
    with pytest.raises(UnsafePickleError, match="expected non-negative ints"):
        restricted_load(_array_with_dtype(good, shape=(-2,)))


def test_object_array_pickled_by_numpy_is_refused():
    payload = pickle.dumps(np.array([None, 1], dtype=object), protocol=3)
    with pytest.raises(UnsafePickleError, match="only plain numeric dtypes"):
        restricted_load(payload)


def test_memo_shared_nested_lists_are_refused_quickly():
    # 2 KB of pickle that expands to 10^9 labels (the CIFAR "labels" list).
    inner = [0] * 1000
    middle = [inner] * 1000
    payload = pickle.dumps({"labels": [middle] * 1000}, protocol=2)
    assert len(payload) < 12_000
    with pytest.raises(UnsafePickleError, match="refers twice to the same list"):
        restricted_load(payload, name="data_batch_1")


def test_shared_nested_tuple_as_dict_key_is_refused():
    # Hashing this key would take 2**40 steps: it must be refused before it is hashed.
    key = (1, 2)
    for _ in range(40):
        key = (key, key)
    # {key: 1}, written by hand: building that dict here would hash the key.
    payload = b"\x80\x02}" + pickle.dumps(key, protocol=2)[2:-1] + b"K\x01s."
    with pytest.raises(UnsafePickleError, match="refers twice|dict key"):
        restricted_load(payload)


def test_flat_shared_tuples_count_against_max_items():
    flat = tuple(range(200))
    payload = pickle.dumps([flat] * 2000, protocol=2)  # shared: 4 KB for 400k items
    with pytest.raises(UnsafePickleError, match="more than .* items once expanded"):
        restricted_load(payload)
    assert len(restricted_load(payload, max_items=10**6)) == 2000


def test_depth_and_size_limits():
    deep = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(UnsafePickleError, match="nests containers 33 deep.*more than the 32"):
        restricted_load(pickle.dumps(deep))
    assert restricted_load(pickle.dumps(deep), max_depth=64) == deep
    with pytest.raises(UnsafePickleError, match="larger than the 10 bytes its format allows"):
        restricted_load(io.BytesIO(pickle.dumps(list(range(100)))), max_bytes=10)


def test_recursive_list_is_refused():
    value = []
    value.append(value)
    with pytest.raises(UnsafePickleError, match="refers twice to the same list"):
        restricted_load(pickle.dumps(value, protocol=2))


def test_malformed_data_raises_value_error_without_addresses():
    payload = pickle.dumps({"w": np.ones(3)}, protocol=2)
    for cut in range(1, len(payload)):
        with pytest.raises(ValueError) as info:
            restricted_load(payload[:cut], name="m.pkl")
        assert "'m.pkl'" in str(info.value) and "0x" not in str(info.value)
