"""Text attributes and libhdf5's global heap (issue 13).

convnet used to write its text attributes (``attrs["format"] = "convnet-params"``) as
variable-length strings, whose bytes live in a *global heap collection* elsewhere in the
file. libhdf5 (2.0) loops for ever when it parses a collection whose free-space object
claims a size under 16 bytes: the fuzzer found one mutated file in about 3000 that hung a
reader. New files store fixed-length strings, which need no heap; files written by earlier
versions still load, once their heap collections have been checked in Python.

Each hostile read runs in a subprocess, so a regression fails the test instead of hanging it.
"""

import json
import os
import struct
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

import convnet.layers as L
from convnet import _hdf5
from convnet.io import read_params, save_params
from convnet.preprocessing import Preprocessor, ZCAWhitening
from convnet.training.checkpoint import read_checkpoint, write_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Seconds a read may take in the subprocess (after its imports) before it counts as a hang.
HANG_AFTER = 30

_READ = {
    "params": "from convnet.io import read_params as read",
    "checkpoint": "from convnet.training.checkpoint import read_checkpoint as read",
    "preprocessing": "from convnet.preprocessing import Preprocessor; read = Preprocessor.load",
    "model": "from convnet.io import load_model as read",
}


def _net(nonlinearity=None):
    net = L.InputLayer((None, 4), name="in")
    extra = {"nonlinearity": nonlinearity} if nonlinearity else {}
    net = L.DenseLayer(net, 3, name="hid", **extra)
    return L.DenseLayer(net, 2, name="out")


def _write(kind, path):
    """A file of ``kind`` written by this convnet."""
    if kind == "params":
        save_params(_net(), path)
    elif kind == "model":  # a network that cannot be described: the reason is stored
        save_params(_net(nonlinearity=lambda x: x), path)
    elif kind == "checkpoint":
        state = {"epoch": 1, "history": {"loss": [0.5]}, "velocity": np.ones((4, 3))}
        write_checkpoint(path, _net(), state)
    else:
        zca = ZCAWhitening(dtype="float64").fit(np.random.default_rng(0).normal(size=(20, 3)))
        zca.save(path)


def _text_attrs(path):
    """{(object name, attribute name): the attribute's HDF5 string type} for text attributes."""
    found = {}
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            for key in obj.attrs:
                htype = h5py.h5a.open(obj.id, key.encode()).get_type()
                if htype.get_class() == h5py.h5t.STRING:
                    found[(obj.name, key)] = htype

        visit("/", f)
        f.visititems(visit)
    return found


def _as_earlier_version(path):
    """Rewrite every text attribute as a variable-length string, as earlier convnets did."""
    with h5py.File(path, "a") as f:
        for obj_name, key in _text_attrs(path):
            value = f[obj_name].attrs[key]
            f[obj_name].attrs[key] = value.decode() if isinstance(value, bytes) else str(value)
    assert all(t.is_variable_str() for t in _text_attrs(path).values())


def _collections(blob):
    """Offsets of the global heap collections in ``blob`` (the file's bytes)."""
    at = blob.find(b"GCOL")
    while at >= 0:
        if blob[at + 4] == 1:
            yield at
        at = blob.find(b"GCOL", at + 1)


def _zero_free_space(path):
    """Set the size of each heap collection's free-space object to 0; libhdf5 loops on it."""
    blob = bytearray(path.read_bytes())
    patched = 0
    for at in _collections(bytes(blob)):
        size = struct.unpack_from("<Q", blob, at + 8)[0]
        p = 16
        while p + 16 <= size:
            index, length = (
                struct.unpack_from("<H", blob, at + p)[0],
                struct.unpack_from("<Q", blob, at + p + 8)[0],
            )
            if index == 0:
                struct.pack_into("<Q", blob, at + p + 8, 0)
                patched += 1
                break
            p += 16 + (length + 7) // 8 * 8
    assert patched, "no free-space object found"
    path.write_bytes(bytes(blob))


def _read_in_subprocess(kind, path):
    """Read ``path`` in a fresh interpreter; ("ok" | exception name, message)."""
    script = textwrap.dedent(
        f"""
        import faulthandler, json, sys, warnings
        warnings.simplefilter("ignore")
        {_READ[kind]}
        faulthandler.dump_traceback_later({HANG_AFTER}, exit=True)
        try:
            read(sys.argv[1])
            print(json.dumps(["ok", ""]))
        except Exception as exc:
            print(json.dumps([type(exc).__name__, str(exc)]))
        """
    )
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=HANG_AFTER + 300,
    )
    assert "Timeout" not in done.stderr, f"the {kind} reader hung:\n{done.stderr[-2000:]}"
    assert done.returncode == 0, done.stderr[-2000:]
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("kind", list(_READ))
def test_a_looping_heap_collection_is_refused_not_hung(kind, tmp_path):
    # Hung for ever in libhdf5's H5HG__cache_heap_deserialize, called from H5Aread.
    path = tmp_path / f"{kind}.h5"
    _write(kind, path)
    _as_earlier_version(path)
    _zero_free_space(path)
    error, message = _read_in_subprocess(kind, path)
    assert error == "ValueError", message
    assert repr(str(path)) in message and "global heap" in message


def test_a_free_space_object_shorter_than_its_header_is_refused(tmp_path):
    # 5 bytes: libhdf5 steps 5 bytes into the zeros after it and loops there.
    path = tmp_path / "params.h5"
    _write("params", path)
    _as_earlier_version(path)
    blob = bytearray(path.read_bytes())
    at = next(_collections(bytes(blob)))
    free = _objects(blob, at)[-1]
    assert free[1] == 0
    struct.pack_into("<Q", blob, free[0] + 8, 5)
    path.write_bytes(bytes(blob))
    error, message = _read_in_subprocess("params", path)
    assert error == "ValueError" and "global heap collection at byte" in message, message


def _objects(blob, at):
    """[(offset in the file, index, size)] of the objects of the collection at ``at``."""
    size = struct.unpack_from("<Q", blob, at + 8)[0]
    found, p = [], 16
    while p + 16 <= size:
        index, length = struct.unpack_from("<H6xQ", blob, at + p)
        found.append((at + p, index, length))
        if index == 0:
            break
        p += 16 + (length + 7) // 8 * 8
    return found


@pytest.mark.parametrize("kind", list(_READ))
def test_new_files_store_text_without_a_global_heap(kind, tmp_path):
    path = tmp_path / f"{kind}.h5"
    _write(kind, path)
    types = _text_attrs(path)
    assert types and not any(t.is_variable_str() for t in types.values())
    assert b"GCOL" not in path.read_bytes()


def _check_same(kind, a, b):
    if kind == "params":
        assert all(
            np.array_equal(x, y) for x, y in zip(read_params(a), read_params(b), strict=True)
        )
    elif kind == "checkpoint":
        (va, arch_a, state_a), (vb, arch_b, state_b) = read_checkpoint(a), read_checkpoint(b)
        assert all(np.array_equal(x, y) for x, y in zip(va, vb, strict=True))
        assert arch_a == arch_b and state_a.keys() == state_b.keys()
        np.testing.assert_array_equal(state_a["velocity"], state_b["velocity"])
        assert state_a["history"] == state_b["history"]
    elif kind == "preprocessing":
        X = np.random.default_rng(1).normal(size=(5, 3))
        np.testing.assert_array_equal(
            Preprocessor.load(a).transform(X), Preprocessor.load(b).transform(X)
        )
    else:
        from convnet.io import load_model

        for path in (a, b):
            with pytest.raises(ValueError, match="when it was saved, network_config: .*lambda"):
                load_model(path)


@pytest.mark.parametrize("kind", list(_READ))
def test_files_of_earlier_versions_still_load(kind, tmp_path):
    new, old = tmp_path / f"new-{kind}.h5", tmp_path / f"old-{kind}.h5"
    _write(kind, new)
    old.write_bytes(new.read_bytes())
    _as_earlier_version(old)
    assert b"GCOL" in old.read_bytes()
    _check_same(kind, old, new)


def test_an_earlier_file_with_text_larger_than_a_collection_loads(tmp_path):
    # A string over 4 KiB gets a collection of its own; names with "GCOL" in them are text.
    path = tmp_path / "old.h5"
    _write("params", path)
    _as_earlier_version(path)
    with h5py.File(path, "a") as f:
        f["params/00000"].attrs["name"] = "GCOL\x01" + "w" * 10_000
        f["params/00001"].attrs["name"] = "GCOL"
    assert len(list(_collections(path.read_bytes()))) >= 2
    assert [v.shape for v in read_params(path)] == [(4, 3), (3,), (3, 2), (2,)]


def _heap_check(path):
    with h5py.File(path, "r") as f:
        _hdf5.check_global_heaps(f, str(path), "test")


def test_an_object_running_past_its_collection_is_refused(tmp_path):
    path = tmp_path / "old.h5"
    _write("params", path)
    _as_earlier_version(path)
    blob = bytearray(path.read_bytes())
    at = next(_collections(bytes(blob)))
    first = _objects(blob, at)[0]
    struct.pack_into("<Q", blob, first[0] + 8, 1 << 20)
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"'.*old.h5' is damaged: the global heap collection"):
        _heap_check(path)
    with pytest.raises(ValueError, match="global heap collection"):
        read_params(path)


def test_a_collection_larger_than_the_file_is_left_to_libhdf5(tmp_path):
    # libhdf5 refuses to read past the end of the file ("actual len exceeds EOA").
    path = tmp_path / "old.h5"
    _write("params", path)
    _as_earlier_version(path)
    blob = bytearray(path.read_bytes())
    at = next(_collections(bytes(blob)))
    struct.pack_into("<Q", blob, at + 8, 1 << 40)
    path.write_bytes(bytes(blob))
    _heap_check(path)
    with pytest.raises(ValueError, match=f"{path.name}.*cannot be read"):
        read_params(path)


def test_heap_objects_are_counted(tmp_path, monkeypatch):
    path = tmp_path / "old.h5"
    _write("params", path)
    _as_earlier_version(path)
    monkeypatch.setattr(_hdf5, "_MAX_HEAP_OBJECTS", 5)
    with pytest.raises(ValueError, match="more than 5 global heap objects"):
        _heap_check(path)


def test_each_file_is_walked_once(tmp_path, monkeypatch):
    path = tmp_path / "old.h5"
    _write("params", path)
    _as_earlier_version(path)
    walks = []
    real = _hdf5._walk_collection
    monkeypatch.setattr(_hdf5, "_walk_collection", lambda *a: walks.append(a[1]) or real(*a))
    read_params(path)
    assert len(walks) == 1  # one collection, 4 parameters of 3 text attributes each
    read_params(path)
    assert len(walks) == 2  # opened again: walked again


def test_attributes_of_other_types_are_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(_hdf5, "_MAX_ATTR_BYTES", 1000)
    path = tmp_path / "params.h5"
    _write("params", path)
    with h5py.File(path, "a") as f:
        sequence = np.empty((1,), dtype=object)
        sequence[0] = np.arange(3, dtype="i4")
        f.attrs.create("format", sequence, dtype=h5py.vlen_dtype("i4"))
        f["params/00000"].attrs.create("name", np.zeros(3), dtype=np.dtype("(3,)f8"))
        f["params/00001"].attrs["name"] = np.zeros(300)
    with pytest.raises(ValueError, match="'format' of '/' should be text, found .* class vlen"):
        read_params(path)
    with h5py.File(path, "a") as f:
        _hdf5.write_text_attr(f, "format", "convnet-params")
    with pytest.raises(ValueError, match="'name' of '/params/00000' should be text.*class array"):
        read_params(path)
    with h5py.File(path, "a") as f:
        _hdf5.write_text_attr(f["params/00000"], "name", "hid.W")
    with pytest.raises(ValueError, match=r"'/params/00001' declares 300 values of 8 bytes"):
        read_params(path)


def test_text_round_trips_through_fixed_length_attributes(tmp_path):
    with h5py.File(tmp_path / "t.h5", "w") as f:
        for i, text in enumerate(["", "hid.W", "Schicht-ä ✓", "x" * 60_000]):
            _hdf5.write_text_attr(f, f"a{i}", text)
            assert _hdf5.text_attr(f, f"a{i}", "t.h5", "test") == text
        with pytest.raises(ValueError, match="attribute 'long' of '/' would hold 70000 bytes"):
            _hdf5.write_text_attr(f, "long", "x" * 70_000)
