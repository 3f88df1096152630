"""Hostile HDF5 and npz parameter files (issue 13): nothing read from outside the file,
sizes checked before data is read, crafted attributes reported as ValueError."""

import io
import json
import os
import tracemalloc
import zipfile

import h5py
import numpy as np
import pytest

import convnet.layers as L
from convnet.io import load_params, read_architecture, read_params, save_params


def _net():
    return L.DenseLayer(L.InputLayer((None, 4)), num_units=3, name="out")


@pytest.fixture
def saved(tmp_path):
    """(network, path of its saved .h5, its bias before loading anything)."""
    net = _net()
    path = tmp_path / "net.h5"
    save_params(net, path)
    net.b.set_value(np.full(3, 7.0, dtype=net.b.dtype))
    return net, path, net.b.get_value().copy()


def _replace(path, name, make):
    with h5py.File(path, "a") as f:
        attrs = dict(f["params"][name].attrs)
        del f["params"][name]
        make(f["params"], name)
        if name in f["params"] and isinstance(f["params"].get(name, getlink=True), h5py.HardLink):
            f["params"][name].attrs.update(attrs)


def test_external_storage_is_refused(saved, tmp_path):
    # Was followed: the bias then held the first 12 bytes of the other file.
    net, path, bias = saved
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"TOP SECRET!!" * 4)
    _replace(
        path, "00001", lambda g, n: g.create_dataset(n, (3,), "f4", external=[(str(secret), 0, 12)])
    )
    with pytest.raises(ValueError, match=f"'{path}'.*external file.*stored in the file itself"):
        load_params(net, path)
    np.testing.assert_array_equal(net.b.get_value(), bias)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_external_storage_on_a_fifo_does_not_hang(saved, tmp_path):
    net, path, _ = saved
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    _replace(
        path, "00001", lambda g, n: g.create_dataset(n, (3,), "f4", external=[(str(fifo), 0, 12)])
    )
    with pytest.raises(ValueError, match="external file"):
        read_params(path)


def test_external_and_soft_links_are_refused(saved, tmp_path):
    net, path, bias = saved
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["b"] = np.arange(3, dtype="f4")
    _replace(path, "00001", lambda g, n: g.__setitem__(n, h5py.ExternalLink(str(other), "/b")))
    with pytest.raises(ValueError, match="'00001'.*it is an external link"):
        load_params(net, path)
    _replace(path, "00001", lambda g, n: g.__setitem__(n, h5py.SoftLink("/params/00000")))
    with pytest.raises(ValueError, match="'00001'.*it is a soft link"):
        load_params(net, path)
    np.testing.assert_array_equal(net.b.get_value(), bias)


def test_virtual_dataset_is_refused(saved, tmp_path):
    net, path, bias = saved
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["b"] = np.arange(3, dtype="f4")

    def virtual(group, name):
        layout = h5py.VirtualLayout(shape=(3,), dtype="f4")
        layout[:] = h5py.VirtualSource(str(other), "b", shape=(3,))
        group.create_virtual_dataset(name, layout)

    _replace(path, "00001", virtual)
    with pytest.raises(ValueError, match="is a virtual dataset"):
        load_params(net, path)
    np.testing.assert_array_equal(net.b.get_value(), bias)


def test_huge_declared_shape_is_refused_before_reading(saved):
    # An 8 KB file whose bias claims 10**9 floats: was 3.7 GiB allocated before the error.
    net, path, bias = saved
    _replace(path, "00001", lambda g, n: g.create_dataset(n, (10**9,), "f4", chunks=(1024,)))
    assert path.stat().st_size < 64_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"shape \(3,\) in the network but \(1000000000,\)"):
            load_params(net, path)
        with pytest.raises(ValueError, match=r"declares shape \(1000000000,\).*stores 0 bytes"):
            read_params(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20
    np.testing.assert_array_equal(net.b.get_value(), bias)


@pytest.mark.parametrize(
    ("where", "name", "value", "match"),
    [
        ("/", "format", np.arange(3), "attribute 'format' of '/' should be text, found an array"),
        ("/", "format", 5, "attribute 'format' of '/' should be text, found int64"),
        ("/params/00000", "name", np.zeros((2, 2)), "attribute 'name' of '/params/00000'"),
    ],
)
def test_crafted_attributes_raise_value_error(saved, where, name, value, match):
    # Were TypeError/AttributeError from deep inside.
    net, path, _ = saved
    with h5py.File(path, "a") as f:
        f[where].attrs[name] = value
    with pytest.raises(ValueError, match=match):
        load_params(net, path)


def test_architecture_record_of_wrong_type_or_depth(saved):
    net, path, _ = saved
    with h5py.File(path, "a") as f:
        del f["architecture"]
        f["architecture"] = np.frombuffer(b"[" * 100_000 + b"]" * 100_000, np.uint8)
    with pytest.raises(ValueError, match="'architecture' record cannot be read"):
        read_architecture(path)
    with h5py.File(path, "a") as f:
        del f["architecture"]
        f["architecture"] = np.zeros(3, dtype="f8")
    with pytest.raises(ValueError, match=r"dataset '/architecture' has dtype float64"):
        read_architecture(path)


def _set_architecture(path, arch):
    with h5py.File(path, "a") as f:
        del f["architecture"]
        f["architecture"] = np.frombuffer(json.dumps(arch).encode(), np.uint8)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        # the fuzzer's: a key renamed, then KeyError 'class' while describing the difference
        pytest.param(
            lambda a: a[1].update({"clas3": a[1].pop("class")}),
            r"layer 1 has no 'class'",
            id="class-renamed",
        ),
        pytest.param(
            lambda a: a.__setitem__(1, [1, 2]),
            r"layer 1 should be a JSON object, found list",
            id="layer-not-object",
        ),
        pytest.param(
            lambda a: a[1].update({"args": [3]}),
            r"layer 1: 'args' should be a JSON object",
            id="args",
        ),
        pytest.param(
            lambda a: a[1].update({"name": 5}),
            r"layer 1: 'name' should be text or null",
            id="name",
        ),
        pytest.param(
            lambda a: a[1].update({"output_shape": [None, -3]}),
            r"layer 1: 'output_shape' should be",
            id="output-shape",
        ),
        pytest.param(
            lambda a: a[1].update({"incoming": [0.5]}),
            r"layer 1: 'incoming' should be",
            id="incoming",
        ),
        pytest.param(
            lambda a: a[1]["params"].__setitem__(0, ["W"]),
            r"layer 1: 'params' should be a list of \[name, shape",
            id="param-entry",
        ),
        pytest.param(
            lambda a: a[1]["params"][0].__setitem__(1, [-1]),
            r"layer 1: 'params' should be a list of \[name, shape",
            id="param-shape",
        ),
        pytest.param(
            lambda a: a.clear() or a.append({}), r"layer 0 has no 'class'", id="empty-layer"
        ),
    ],
)
def test_damaged_architecture_record_is_refused(saved, edit, match):
    net, path, bias = saved
    arch = read_architecture(path)
    edit(arch)
    _set_architecture(path, arch)
    for read in (lambda: load_params(net, path), lambda: read_architecture(path)):
        with pytest.raises(ValueError, match=rf"'{path}': its architecture record: {match}"):
            read()
    np.testing.assert_array_equal(net.b.get_value(), bias)


def test_architecture_record_that_is_not_a_list(saved):
    net, path, _ = saved
    _set_architecture(path, {"class": "DenseLayer"})
    with pytest.raises(ValueError, match="its architecture record: should be a JSON list"):
        load_params(net, path)


def test_truncated_npz_member_is_named(tmp_path):
    # Was reported as "holds pickled Python objects".
    net = _net()
    path = tmp_path / "net.npz"
    save_params(net, path)
    data = path.read_bytes()
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("arr_0.npy")
    cut = tmp_path / "cut.npz"
    # Keep the zip directory valid, but make arr_0's stored data short: rewrite the member.
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(cut, "w") as out:
        for item in z.infolist():
            raw = z.read(item)
            out.writestr(item, raw[: len(raw) - 8] if item.filename == "arr_0.npy" else raw)
    assert info.file_size > 8 and len(data) > 0
    with pytest.raises(
        ValueError, match=rf"'{cut}'.*'arr_0' is truncated or crafted: its header declares"
    ):
        load_params(net, cut)


def test_npz_member_with_huge_declared_shape(tmp_path):
    # A small member whose .npy header declares a gigabyte array: checked before reading.
    path = tmp_path / "net.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros(3, np.float32))
    header["shape"] = (10**9,)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("arr_0.npy", buf.getvalue() + b"\0" * 64)
        z.writestr("arr_1.npy", buf.getvalue() + b"\0" * 64)
    with pytest.raises(ValueError, match=r"'arr_0'.*declares shape \(1000000000,\)"):
        read_params(path)


@pytest.mark.parametrize(
    ("names", "odd"),
    [
        pytest.param(["arr_0", "arr_1", "arr_2", "arr_²"], "arr_²", id="superscript-digit"),
        pytest.param(["arr_0", "arr_١", "arr_2", "arr_3"], "arr_١", id="arabic-indic-digit"),
        pytest.param(["arr_0", "arr_01", "arr_2", "arr_3"], "arr_01", id="leading-zero"),
        pytest.param(["arr_0", "arr_1", "arr_2", "arr_4"], "arr_4", id="gap"),
    ],
)
def test_npz_member_names_must_be_arr_0_to_n(tmp_path, names, odd):
    # The fuzzer's "arr_²": str.isdigit accepted it, then int() raised a ValueError that
    # did not name the file. Lasagne reads arr_0 ... arr_{n-1}, nothing else.
    net = L.DenseLayer(L.DenseLayer(L.InputLayer((None, 4)), 3), 2)
    path = tmp_path / "net.npz"
    with zipfile.ZipFile(path, "w") as z:
        for name, p in zip(names, L.get_all_params(net), strict=True):
            buf = io.BytesIO()
            np.save(buf, p.get_value())
            z.writestr(name + ".npy", buf.getvalue())
    with pytest.raises(
        ValueError,
        match=rf"'{path}' is not a Lasagne-style parameter file: expected arrays named arr_0, "
        rf"arr_1, \.\.\., found \['{odd}'\]",
    ):
        load_params(net, path)


def test_load_model_refuses_a_damaged_architecture_record(saved):
    from convnet.io import load_model

    _, path, _ = saved
    arch = read_architecture(path)
    arch[1]["params"] = [["W", [4, 3]]]  # was an IndexError choosing floatX
    _set_architecture(path, arch)
    with pytest.raises(ValueError, match=rf"'{path}': its architecture record: layer 1: 'params'"):
        load_model(path)


@pytest.mark.parametrize(
    ("signature", "flags_at", "name_at"),
    [
        pytest.param(b"PK\x03\x04", 6, 30, id="local-header"),  # the fuzzer's
        pytest.param(b"PK\x01\x02", 8, 46, id="central-directory"),
    ],
)
def test_npz_member_name_that_is_not_utf8(tmp_path, signature, flags_at, name_at):
    # A name flagged as UTF-8 that is not: zipfile raised UnicodeDecodeError.
    net = _net()
    path = tmp_path / "net.npz"
    save_params(net, path)
    data = bytearray(path.read_bytes())
    at = data.index(signature)
    data[at + flags_at + 1] |= 0x08  # bit 11: the name is UTF-8
    data[at + name_at] = 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"'{path}' is not a readable npz file.*UnicodeDecode"):
        load_params(net, path)
