"""The fuzzed readers: a valid seed file for each, how to read it, what a success must be.

Imported by the worker subprocess (:mod:`tests.fuzz.worker`), which runs :func:`read`,
and by the harness, which builds the seeds with :func:`seeds`.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import sys

import numpy as np

#: reader name -> the file name its inputs get (some readers look at the name)
FILENAMES = {
    "idx": "images-idx3-ubyte",
    "idx_gz": "images-idx3-ubyte.gz",
    "cifar_pickle": "data_batch_1",
    "npz": "params.npz",
    "hdf5_params": "params.h5",
    "checkpoint": "checkpoint.h5",
    "preprocessing": "zca.h5",
    # files as earlier convnets wrote them: text attributes as variable-length strings,
    # kept in a global heap (see convnet._hdf5.check_global_heaps)
    "checkpoint_vlen": "checkpoint.h5",
    "preprocessing_vlen": "zca.h5",
    "jpeg": "image.JPEG",
    "model_zoo": "model.pkl",
}
READERS = tuple(FILENAMES)


def _net():
    import convnet.layers as L

    net = L.InputLayer((None, 4), name="in")
    net = L.DenseLayer(net, 3, name="hid")
    return L.DenseLayer(net, 2, name="out")


def _py2_pickle(obj) -> bytes:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "datasets"))
    from dataset_builders import py2_pickle

    return py2_pickle(obj)


def seeds() -> dict[str, bytes]:
    """One small valid file per reader."""
    import gzip

    from convnet.io import hdf5_bytes, write_params_group
    from convnet.preprocessing import ZCAWhitening
    from convnet.training.checkpoint import write_checkpoint

    rng = np.random.default_rng(0)
    out = {}
    images = rng.integers(0, 256, (3, 5, 4), dtype=np.uint8)
    idx = struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">3I", *images.shape) + images.tobytes()
    out["idx"] = idx
    out["idx_gz"] = gzip.compress(idx, mtime=0)
    batch = {
        b"batch_label": b"training batch 1 of 5",
        b"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8),
        b"labels": [1, 2, 3],
        b"filenames": [b"a.png", b"b.png", b"c.png"],
    }
    out["cifar_pickle"] = _py2_pickle(batch)
    net = _net()
    buf = io.BytesIO()
    np.savez(buf, *[p.get_value() for p in _params(net)])
    out["npz"] = buf.getvalue()
    out["hdf5_params"] = hdf5_bytes(lambda f: write_params_group(f, net))
    state = {
        "epoch": 1,
        "batch_in_epoch": 0,
        "global_step": 3,
        "target": {"dtype": "int32", "ndim": 1},
        "rng": np.random.default_rng(1).bit_generator.state,
        "epoch_state": None,
        "history": {"epoch": [1], "history": {"loss": [0.5]}},
        "callbacks": [],
        "variables": [{"name": "hid.W.velocity", "kind": "state", "value": np.zeros((4, 3))}],
    }
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "c.h5")
        write_checkpoint(path, net, state)
        with open(path, "rb") as f:
            out["checkpoint"] = f.read()
        zca = ZCAWhitening(dtype="float64").fit(rng.normal(size=(20, 2, 2)))
        path = os.path.join(d, "z.h5")
        zca.save(path)
        with open(path, "rb") as f:
            out["preprocessing"] = f.read()
    out["checkpoint_vlen"] = _with_vlen_text(out["checkpoint"])
    out["preprocessing_vlen"] = _with_vlen_text(out["preprocessing"])
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        buf, format="JPEG", quality=90
    )
    out["jpeg"] = buf.getvalue()
    zoo = {
        "param values": [p.get_value() for p in _params(net)],
        "synset words": ["a", "b"],
        "mean value": np.zeros(3, np.float32),
    }
    out["model_zoo"] = pickle.dumps(zoo, protocol=2).replace(
        b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"
    )
    return out


def _with_vlen_text(blob: bytes) -> bytes:
    """``blob`` (an HDF5 file) with every text attribute rewritten as a variable-length string."""
    import h5py

    buf = io.BytesIO(blob)
    with h5py.File(buf, "a") as f:
        objects = [f]
        f.visititems(lambda name, obj: objects.append(obj))
        for obj in objects:
            for key in list(obj.attrs):
                value = obj.attrs[key]
                if isinstance(value, bytes):
                    obj.attrs[key] = value.decode("utf-8")
    return buf.getvalue()


def _params(net):
    from convnet.layers import get_all_params

    return get_all_params(net)


# --------------------------------------------------------------------------------------
# reading (in the worker)
# --------------------------------------------------------------------------------------

_NET = None


def read(reader: str, path: str) -> str:
    """Read ``path`` with ``reader``; return a description of what loaded (or raise)."""
    global _NET
    reader = reader.removesuffix("_vlen")
    if reader in ("idx", "idx_gz"):
        from convnet.datasets.mnist import read_idx

        a = read_idx(path)
        if a.dtype.kind not in "uif" or a.ndim < 1:
            raise AssertionError(f"read_idx returned {a.dtype} {a.shape}")
        return f"{a.dtype} {a.shape}"
    if reader == "cifar_pickle":
        from convnet.datasets import cifar

        batch = cifar._unpickle("fuzz", open(path, "rb"), path)  # noqa: SIM115
        X, labels = cifar._parse_batch("fuzz", path, batch, cifar._CIFAR10)
        if X.dtype != np.uint8 or X.shape[1:] != (3, 32, 32):
            raise AssertionError(f"CIFAR batch gave {X.dtype} {X.shape}")
        return f"{X.shape}"
    if reader in ("npz", "hdf5_params"):
        from convnet.io import load_params

        if _NET is None:
            _NET = _net()
        before = [(p.get_value().shape, p.get_value().dtype) for p in _params(_NET)]
        load_params(_NET, path)
        after = [(p.get_value().shape, p.get_value().dtype) for p in _params(_NET)]
        if before != after:
            raise AssertionError(f"load_params changed shapes/dtypes: {before} -> {after}")
        return "ok"
    if reader == "checkpoint":
        from convnet.io import param_shapes
        from convnet.training.checkpoint import check_state, read_checkpoint

        if _NET is None:
            _NET = _net()
        values, _, state = read_checkpoint(path, expected_shapes=param_shapes(_NET))
        check_state(state, path)
        return f"{[v.shape for v in values]}"
    if reader == "preprocessing":
        from convnet.preprocessing import Preprocessor

        prep = Preprocessor.load(path)
        if not prep.is_fitted:  # only from a file that consistently says so (nothing to apply)
            if prep.n_samples_seen_ != 0 or any(
                getattr(prep, k + "_") is not None for k in prep._state_names
            ):
                raise AssertionError(f"an unfitted {type(prep).__name__} with fitted state")
            return f"unfitted {type(prep).__name__}"
        x = np.ones((2, *prep.feature_shape_))
        y = prep.transform(x)
        if y.shape[0] != 2:
            raise AssertionError(f"transform gave {y.shape}")
        return f"{type(prep).__name__} {prep.feature_shape_}"
    if reader == "jpeg":
        from convnet.datasets._jpeg_worker import decode_into

        out = np.empty((3, 64, 64), np.uint8)
        decode_into(path, out)
        return "ok"
    if reader == "model_zoo":
        from convnet.transfer import read_model_zoo

        data = read_model_zoo(path)
        return json.dumps(sorted(map(str, data)))
    if reader == "selftest":  # misbehaviours the harness must catch (its own tests)
        with open(path, "rb") as f:
            command = f.read()
        if command == b"alloc":
            return str(np.ones(1 << 34, np.uint8).sum())
        if command == b"abort":
            os.abort()
        if command == b"sleep":
            import time

            time.sleep(600)
        raise KeyError(command)
    raise KeyError(reader)
