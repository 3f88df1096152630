"""The save loops run in the killed children, and the checks run after each kill."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile

import numpy as np

KINDS = (
    "save_params_h5",
    "save_params_npz",
    "checkpoint",
    "preprocessing",
    "preprocessing_group",
    "search_results",
    "download",
    "extract",
    "trainer_fit",
)
#: the kinds that need a fresh interpreter (JAX must not run in a forked child)
SPAWNED = ("trainer_fit",)
_PAYLOAD = np.random.default_rng(5).integers(0, 256, 3_000_000, dtype=np.uint8).tobytes()
PAYLOAD_MD5 = hashlib.md5(_PAYLOAD).hexdigest()


def payload() -> bytes:
    return _PAYLOAD


def _net():
    import convnet.layers as L

    net = L.InputLayer((None, 20), name="in")
    net = L.DenseLayer(net, 200, name="hid")
    return L.DenseLayer(net, 10, name="out")


def _set_all(net, v: float) -> None:
    from convnet.layers import get_all_params

    for p in get_all_params(net):
        p.set_value(np.full(p.get_value().shape, v, dtype=p.dtype))


def archive_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(40):
            data = _PAYLOAD[i * 50_000 : (i + 1) * 50_000]
            info = tarfile.TarInfo(f"top/part_{i:02d}.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _search_trial(config, context):
    return {"value": config["x"] * 2}


def loop(kind: str, path: str, url: str | None, report) -> None:
    """Save versions 1, 2, 3... of ``path`` for ever; call ``report(v)`` after each."""
    v = 0
    if kind in ("save_params_h5", "save_params_npz", "checkpoint"):
        from convnet.io import save_params
        from convnet.training.checkpoint import write_checkpoint

        net = _net()
        while True:
            v += 1
            _set_all(net, v)
            if kind == "checkpoint":
                state = {"epoch": v, "global_step": v, "history": {"loss": [float(v)] * 50},
                         "variables": [np.full((200, 200), v, np.float32)]}  # fmt: skip
                write_checkpoint(path, net, state)
            else:
                save_params(net, path)
            report(v)
    elif kind in ("preprocessing", "preprocessing_group"):
        from convnet.preprocessing import PixelStandardization

        X = np.random.default_rng(0).normal(size=(10, 64, 64))
        prep = PixelStandardization(dtype="float64").fit(X)
        while True:
            v += 1
            prep.mean_ = np.full((64, 64), float(v))
            prep.save(path, group="prep" if kind == "preprocessing_group" else None)
            report(v)
    elif kind == "search_results":
        from convnet.search import run_trials

        while True:
            v += 1
            configs = [{"x": i} for i in range(v * 5)]
            run_trials(_search_trial, configs, results_file=path, executor="serial", verbose=0)
            report(v)
    elif kind == "download":
        from convnet.datasets.download import download_file

        while True:
            v += 1
            for p in (path, path + ".part"):
                if v > 1 and os.path.exists(p) and p.endswith(".part"):
                    os.unlink(p)
            if os.path.exists(path):
                os.unlink(path)
            download_file(url, path, md5=PAYLOAD_MD5, progress=False)
            report(v)
    elif kind == "extract":
        import shutil

        from convnet.datasets.download import extract_archive

        archive = path + ".tar.gz"
        with open(archive, "wb") as f:
            f.write(archive_bytes())
        while True:
            v += 1
            top = os.path.join(path, "top")
            if os.path.exists(top):
                # Out of the way in one rename first: a kill inside rmtree would leave a
                # half-deleted folder that no extraction wrote.
                os.rename(top, os.path.join(path, f".old-{v}"))
                shutil.rmtree(os.path.join(path, f".old-{v}"))
            extract_archive(archive, path)
            report(v)
    elif kind == "trainer_fit":
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "training"))
        import _tinynet as tn

        from convnet.training import ModelCheckpoint

        trainer = tn.make_trainer(tn.build_net())
        X, y = tn.blobs(64, seed=0)

        class Report(ModelCheckpoint):
            def _save(self, logs):
                super()._save(logs)
                report(self.trainer.global_step)

        trainer.fit(X, y, epochs=10_000, batch_size=8, seed=0, progress=False,
                    callbacks=[Report(path, every_n_batches=1)])  # fmt: skip
    else:
        raise KeyError(kind)


# --------------------------------------------------------------------------------------
# checks (in the harness)
# --------------------------------------------------------------------------------------


def check(kind: str, path: str, url: str | None, trainer=None) -> str:
    """Raise AssertionError unless ``path`` holds a complete version; return a summary.

    Also resumes: reloads, reruns or redownloads as a user would after the kill.
    """
    if kind in ("save_params_h5", "save_params_npz"):
        from convnet.io import load_params, read_params

        values = read_params(path)
        vs = {float(np.unique(a)[0]) for a in values if np.unique(a).size == 1}
        assert len(vs) == 1 and all(np.unique(a).size == 1 for a in values), "mixed versions"
        net = _net()
        load_params(net, path)
        return f"v{int(vs.pop())}"
    if kind == "checkpoint":
        from convnet.training.checkpoint import read_checkpoint

        values, _, state = read_checkpoint(path)
        v = state["epoch"]
        assert all(np.all(a == v) for a in values) and np.all(state["variables"][0] == v)
        assert state["history"]["loss"] == [float(v)] * 50
        return f"v{v}"
    if kind in ("preprocessing", "preprocessing_group"):
        from convnet.preprocessing import Preprocessor

        prep = Preprocessor.load(path, group="prep" if kind == "preprocessing_group" else None)
        assert np.unique(prep.mean_).size == 1
        return f"v{int(prep.mean_[0, 0])}"
    if kind == "search_results":
        from convnet.search import run_trials
        from convnet.search._results import _read_records

        records = _read_records(path)  # validates, repairs a torn last line
        n = len(records)
        configs = [{"x": i} for i in range(max(n, 1) + 3)]
        result = run_trials(_search_trial, configs, results_file=path, executor="serial",
                            verbose=0)  # fmt: skip
        assert [r["status"] for r in result.records] == ["ok"] * len(configs)
        assert len(_read_records(path)) >= len(configs)
        return f"{n} records"
    if kind == "download":
        from convnet.datasets.download import download_file, file_checksum

        if os.path.exists(path):
            assert file_checksum(path) == PAYLOAD_MD5, "a wrong file in place"
            state = "complete"
        else:
            state = "absent"
        download_file(url, path, md5=PAYLOAD_MD5, progress=False)  # resumes from .part
        assert file_checksum(path) == PAYLOAD_MD5
        return state
    if kind == "extract":
        from convnet.datasets.download import extract_archive

        top = os.path.join(path, "top")
        if os.path.exists(top):
            names = sorted(os.listdir(top))
            assert names == [f"part_{i:02d}.bin" for i in range(40)], f"partial: {len(names)}"
            for i, name in enumerate(names):
                with open(os.path.join(top, name), "rb") as f:
                    assert f.read() == _PAYLOAD[i * 50_000 : (i + 1) * 50_000], name
            return "complete"
        extract_archive(path + ".tar.gz", path)
        return "absent, re-extracted"
    if kind == "trainer_fit":
        from convnet.training.checkpoint import read_checkpoint

        _, _, state = read_checkpoint(path)
        if trainer is not None:
            trainer.load_checkpoint(path)
            assert trainer.global_step == state["global_step"]
        return f"step {state['global_step']}"
    raise KeyError(kind)


def leftovers(path: str) -> list[str]:
    """Temporary files a kill left beside ``path`` (allowed, but counted)."""
    folder = os.path.dirname(path)
    return [n for n in os.listdir(folder) if n.startswith(".") or n.endswith(".part")]


def describe(obj) -> str:
    return json.dumps(obj)
