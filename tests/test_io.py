"""convnet.io: HDF5 and Lasagne-style npz parameter files; convnet.layers.summary."""

import os
import sys

import h5py
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "training"))

import _tinynet as tn  # noqa: E402

import convnet.layers as L  # noqa: E402
from convnet.io import (  # noqa: E402
    atomic_write,
    describe_network,
    load_params,
    read_architecture,
    read_params,
    save_params,
)
from convnet.layers.summary import summary  # noqa: E402


def scramble(net, seed=1):
    rng = np.random.default_rng(seed)
    for p in L.get_all_params(net):
        v = np.asarray(p.get_value())
        p.set_value(rng.normal(size=v.shape).astype(v.dtype))


@pytest.mark.parametrize("ext", ["h5", "npz"])
def test_round_trip(tmp_path, ext):
    net = tn.build_net()
    scramble(net)
    values = L.get_all_param_values(net)
    path = tmp_path / f"net.{ext}"
    save_params(net, path)
    other = tn.build_net()
    load_params(other, path)
    got = L.get_all_param_values(other)
    assert len(got) == len(values) == 8  # W, b, batch norm beta, gamma, mean, inv_std, W, b
    for a, b in zip(got, values):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_hdf5_layout_names_shapes_dtypes(tmp_path):
    net = tn.build_net()
    path = tmp_path / "net.h5"
    save_params(net, path)
    with h5py.File(path, "r") as f:
        ds = [f["params"][k] for k in sorted(f["params"])]

        def text(d, key):  # fixed-length UTF-8 strings (no global heap), read as bytes
            htype = d.attrs.get_id(key).get_type()
            assert htype.get_cset() == h5py.h5t.CSET_UTF8 and not htype.is_variable_str()
            return d.attrs[key].decode("utf-8")

        assert text(f, "format") == "convnet-params"
        assert [text(d, "name") for d in ds] == [
            "hid.W",
            "hid.b",
            "bn.beta",
            "bn.gamma",
            "bn.mean",
            "bn.inv_std",
            "out.W",
            "out.b",
        ]
        assert [text(d, "layer_name") for d in ds] == ["hid"] * 2 + ["bn"] * 4 + ["out"] * 2
        assert text(ds[0], "layer_class") == "DenseLayer"
        assert text(ds[0], "shape") == "[6, 8]" and text(ds[0], "dtype") == "float32"
        assert text(ds[4], "tags") == '["batch_norm_stat"]'  # not trainable
        assert text(ds[0], "tags") == '["regularizable", "trainable"]'
    arch = read_architecture(path)
    assert arch == describe_network(net)
    assert [d["class"] for d in arch] == [
        "InputLayer",
        "DenseLayer",
        "BatchNormLayer",
        "DropoutLayer",
        "DenseLayer",
    ]
    assert arch[1]["args"]["num_units"] == 8 and arch[3]["args"]["p"] == 0.3
    assert arch[4]["incoming"] == [3] and arch[1]["output_shape"] == [None, 8]


def test_reads_lasagne_npz(tmp_path):
    """What Lasagne users write: np.savez(path, *get_all_param_values(net))."""
    net = tn.build_net()
    scramble(net, seed=2)
    path = tmp_path / "lasagne.npz"
    np.savez(path, *L.get_all_param_values(net))
    other = tn.build_net()
    load_params(other, path)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(L.get_all_param_values(other), L.get_all_param_values(net))
    )
    # and what save_params writes, Lasagne reads the same way
    save_params(net, tmp_path / "ours.npz")
    with np.load(tmp_path / "ours.npz") as f:
        assert sorted(f.files) == sorted(f"arr_{i}" for i in range(8))
        lasagne_style = [f[f"arr_{i}"] for i in range(len(f.files))]
    assert all(np.array_equal(a, b) for a, b in zip(lasagne_style, L.get_all_param_values(net)))


def test_shape_mismatch_names_first_parameter_and_layer(tmp_path):
    small = tn.build_net(n_hidden=5)
    path = tmp_path / "small.h5"
    save_params(small, path)
    net = tn.build_net()
    before = L.get_all_param_values(net)
    with pytest.raises(ValueError) as err:
        load_params(net, path)
    msg = str(err.value)
    assert msg.startswith(
        "load_params: parameter 0 'hid.W' of DenseLayer 'hid' has shape "
        "(6, 8) in the network but (6, 5) in "
    )
    assert "small.h5" in msg
    assert "(layer 1: the file has DenseLayer 'hid'(num_units=5" in msg
    assert "the network has DenseLayer 'hid'(num_units=8" in msg
    # nothing was changed
    assert all(np.array_equal(a, b) for a, b in zip(before, L.get_all_param_values(net)))
    # npz: no architecture, still the parameter and both shapes
    save_params(small, tmp_path / "small.npz")
    with pytest.raises(
        ValueError,
        match=r"parameter 0 'hid.W' of DenseLayer 'hid' has shape "
        r"\(6, 8\) in the network but \(6, 5\) in '.*small\.npz'$",
    ):
        load_params(net, tmp_path / "small.npz")


def test_later_mismatch_changes_nothing(tmp_path):
    net = tn.build_net(n_out=4)
    save_params(net, tmp_path / "four.npz")
    target = tn.build_net()
    before = L.get_all_param_values(target)
    with pytest.raises(
        ValueError,
        match=r"parameter 6 'out.W' of DenseLayer 'out' has shape "
        r"\(8, 3\) in the network but \(8, 4\)",
    ):
        load_params(target, tmp_path / "four.npz")
    assert all(np.array_equal(a, b) for a, b in zip(before, L.get_all_param_values(target)))


def test_count_mismatch(tmp_path):
    save_params(tn.build_net(batchnorm=False), tmp_path / "nobn.h5")
    with pytest.raises(
        ValueError,
        match=r"holds 4 parameter arrays but the network has 8 "
        r"parameters \(layer 2: the file has DropoutLayer 'drop'\(p=0.3",
    ):
        load_params(tn.build_net(), tmp_path / "nobn.h5")


def test_corrupt_and_foreign_files(tmp_path):
    net = tn.build_net()
    save_params(net, tmp_path / "good.h5")
    raw = (tmp_path / "good.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(
        ValueError,
        match=r"load_params: '.*cut\.h5' \(\d+ bytes\) is not a "
        r"readable HDF5 file: it is truncated, corrupt or of another format",
    ):
        load_params(net, tmp_path / "cut.h5")
    save_params(net, tmp_path / "good.npz")
    raw = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(
        ValueError,
        match=r"'.*cut\.npz' is not a readable npz file: it is "
        r"truncated",
    ):
        load_params(net, tmp_path / "cut.npz")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="holds no convnet parameters .* written by save_params"):
        load_params(net, tmp_path / "other.h5")
    np.savez(tmp_path / "named.npz", weights=np.zeros(3))
    with pytest.raises(
        ValueError,
        match=r"expected arrays named arr_0, arr_1, \.\.\., found "
        r"\['weights'\]",
    ):
        load_params(net, tmp_path / "named.npz")
    with pytest.raises(
        ValueError,
        match=r"cannot tell the format of '.*net\.bin' from its "
        r"extension '\.bin'",
    ):
        save_params(net, tmp_path / "net.bin")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_params(net, tmp_path / "absent.h5")


def test_never_unpickles(tmp_path):
    obj = np.empty(2, dtype=object)
    obj[:] = [np.zeros(3), "payload"]
    np.savez(tmp_path / "pickled.npz", obj)
    with pytest.raises(
        ValueError,
        match=r"holds pickled Python objects in 'arr_0'; convnet "
        r"never unpickles",
    ):
        load_params(tn.build_net(), tmp_path / "pickled.npz")


def test_read_params_matches_saved(tmp_path):
    net = tn.build_net()
    save_params(net, tmp_path / "p.h5")
    for a, b in zip(read_params(tmp_path / "p.h5"), L.get_all_param_values(net)):
        assert np.array_equal(a, b)


def test_atomic_write_replaces_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "x.bin"
    atomic_write(path, b"one")
    umask = os.umask(0o022)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    os.chmod(path, 0o640)
    atomic_write(path, b"one")
    assert os.stat(path).st_mode & 0o777 == 0o640  # an existing file keeps its mode
    atomic_write(path, b"two")
    assert path.read_bytes() == b"two" and os.listdir(tmp_path) == ["x.bin"]
    (tmp_path / ".x.bin.stale.tmp").write_bytes(b"partial")
    atomic_write(path, b"three")
    assert os.listdir(tmp_path) == ["x.bin"]


def test_summary_table(tmp_path):
    net = tn.build_net()
    text = summary(net)
    lines = text.splitlines()
    assert lines[0].split() == ["#", "name", "class", "output", "shape", "params"]
    rows = [line.split() for line in lines[2:7]]
    sizes = {p.name: np.asarray(p.get_value()).size for p in L.get_all_params(net)}
    assert rows[1][:3] == ["1", "hid", "DenseLayer"] and rows[1][-1] == str(6 * 8 + 8)
    assert rows[2][:3] == ["2", "bn", "BatchNormLayer"] and rows[2][-1] == "32"
    assert rows[4][-1] == str(8 * 3 + 3) and "(None, 3)" in lines[6]
    total = sum(sizes.values())
    frozen = sizes["bn.mean"] + sizes["bn.inv_std"]
    trainable = total - frozen
    assert lines[-1] == (
        f"total params: {total:,} (trainable {trainable:,}, non-trainable {frozen:,})"
    )
    # the same table from a saved file's description, and with arguments
    save_params(net, tmp_path / "net.h5")
    assert summary(read_architecture(tmp_path / "net.h5")) == text
    assert "num_units=8" in summary(net, show_args=True)
