"""Data-parallel functions (``convnet.function(devices=...)``) on several CPU devices."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "CONVNET_MODE")}
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")])
    return env


def _close(a, b):
    for pa, pb in zip(a["params"], b["params"], strict=True):
        np.testing.assert_allclose(np.asarray(pa), np.asarray(pb), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a["losses"], b["losses"], rtol=1e-5)


@pytest.fixture(scope="module")
def four_devices(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("parallel") / "result.json")
    run = subprocess.run(
        [sys.executable, "-m", "tests.parallel.worker", "single", "4", out],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    with open(out) as f:
        return json.load(f)


def test_two_and_four_devices_match_one_device(four_devices):
    assert four_devices["n_jax_devices"] == 4
    one = four_devices["None"]
    # The loss really moved: the runs compared are five real steps.
    assert one["losses"][-1] < 0.8 * one["losses"][0]
    _close(four_devices["2"], one)
    _close(four_devices["4"], one)
    assert four_devices["loss_dtype"] == "float32"


def test_parameters_written_on_two_devices_resume_on_one_and_back(four_devices):
    one = four_devices["None"]
    for key in ("2->None", "None->2"):
        resumed = four_devices[key]
        np.testing.assert_allclose(resumed["losses"], one["losses"][3:], rtol=1e-5)
        for pa, pb in zip(resumed["params"], one["params"], strict=True):
            np.testing.assert_allclose(np.asarray(pa), np.asarray(pb), rtol=1e-5, atol=1e-6)


def test_bad_data_parallel_arguments_name_what_was_expected(four_devices):
    errors = four_devices["errors"]
    assert "need the JAX mode, received mode='c'" in errors["mode_c"]
    assert errors["too_many"].startswith(
        "ValueError: convnet.function(devices=...): expected 1 to 4"
    )
    assert "expected a non-empty sequence of JAX devices" in errors["not_devices"]
    assert "batch_inputs=...) needs devices" in errors["batch_inputs_alone"]
    assert "must be a multiple of 4; received shape (5, 1, 8, 8)" in errors["indivisible"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_on_localhost_train_as_one(tmp_path, four_devices):
    port = _free_port()
    outs = [str(tmp_path / f"rank{r}.json") for r in (0, 1)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.parallel.worker", "host", str(r), str(port), outs[r]],
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in (0, 1)
    ]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    results = []
    for out in outs:
        with open(out) as f:
            results.append(json.load(f))
    assert [r["devices"] for r in results] == [2, 2]
    for r in results:
        _close(r, four_devices["None"])
