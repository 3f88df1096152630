"""Data-parallel Trainers (``Trainer(devices=...)``) on 4 forced CPU devices.

Each fixture runs one part of ``tests/parallel/trainer_worker.py`` in a process of its own
(JAX reads the device count once, at start) and reads back its JSON results.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from .test_data_parallel import ROOT, _env


def _run(part, tmp_path_factory):
    out = str(tmp_path_factory.mktemp(f"trainer-{part}") / "result.json")
    run = subprocess.run(
        [sys.executable, "-m", "tests.parallel.trainer_worker", part, out],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    with open(out) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def fit_results(tmp_path_factory):
    return _run("fit", tmp_path_factory)


@pytest.fixture(scope="module")
def bn_results(tmp_path_factory):
    return _run("bn", tmp_path_factory)


def _same_params(a, b):
    for pa, pb in zip(a, b, strict=True):
        np.testing.assert_allclose(np.asarray(pa), np.asarray(pb), rtol=1e-5, atol=1e-6)


def test_fit_on_two_and_four_devices_gives_the_one_device_parameters(fit_results):
    assert fit_results["n_jax_devices"] == 4
    one = fit_results["fit-None"]
    assert one["loss"][1] < 0.9 * one["loss"][0]  # two real epochs of four steps each
    for devices in ("2", "4"):
        _same_params(fit_results[f"fit-{devices}"]["params"], one["params"])
        np.testing.assert_allclose(fit_results[f"fit-{devices}"]["loss"], one["loss"], rtol=1e-5)


def test_a_checkpoint_resumes_on_another_number_of_devices(fit_results):
    one = fit_results["fit-None"]
    for key in ("resume-2->None", "resume-None->2"):
        resumed = fit_results[key]
        assert resumed["epoch"] == 2
        # the history came back with the checkpoint: epoch 1's loss, then epoch 2's
        np.testing.assert_allclose(resumed["loss"], one["loss"], rtol=1e-5)
        _same_params(resumed["params"], one["params"])


def test_batch_sizes_the_devices_cannot_share_are_refused_with_the_fix(fit_results):
    errors = fit_results["errors"]
    assert errors["fit"] == (
        "ValueError: Trainer.fit: batch_size=6 is not a multiple of the 4 devices the trainer "
        "runs on (Trainer(devices=...)), which each take an equal part of every batch; use "
        "batch_size=8 or another multiple of 4"
    )
    assert (
        "Trainer.fit: validation_batch_size=10 is not a multiple of the 4" in errors["validation"]
    )
    assert "use validation_batch_size=12" in errors["validation"]
    assert "Trainer.evaluate: batch_size=6 is not a multiple of the 4 devices" in errors["evaluate"]
    assert "Trainer.predict_proba: batch_size=6 is not a multiple of the 4" in errors["predict"]
    assert errors["iterable"].startswith(
        "ValueError: Trainer.fit: batch 1 of epoch 3 has 6 samples, not a multiple of the 4 devices"
    )
    assert fit_results["iterable_steps_done"] == 1  # the batch of 8 before it trained
    pieces, arrays = errors["iterable_evaluate"]
    assert pieces["loss"] == pytest.approx(arrays["loss"], rel=1e-5)
    assert errors["too_many"].startswith("ValueError: Trainer(devices=...): expected 1 to 4")
    assert "expected batch_norm 'sync' or 'per_device', received 'per_gpu'" in errors["batch_norm"]
    assert "need the JAX mode, received mode='c'" in errors["mode_c"]


def test_the_last_partial_batch_is_cut_in_training_and_used_whole_in_evaluation(bn_results):
    cut = bn_results["cut"]
    # 30 samples, batches of 8 on 4 devices: 8, 8, 8 and 4 of the last 6 -- one device's
    # run on the first 28 samples; 26 samples: the last 2 are left out.
    assert cut["steps"] == 4 and cut["steps26"] == 3 and cut["global_step"] == 7
    _same_params(cut["params4"], cut["params1"])
    # evaluate and predict cover all 30 samples (the last 6 on one device)
    for key in ("loss", "acc"):
        assert cut["eval4"][key] == pytest.approx(cut["eval1"][key], rel=1e-5)
        assert cut["eval4_parallel_only"][key] == pytest.approx(cut["eval1_first24"][key], rel=1e-5)
    assert cut["eval4"]["loss"] != pytest.approx(cut["eval4_parallel_only"]["loss"], rel=1e-3)
    assert np.asarray(cut["proba4"]).shape == (30, 3)
    np.testing.assert_allclose(cut["proba4"], cut["proba1"], rtol=1e-5, atol=1e-6)


def test_per_device_batch_norm_normalises_each_device_part_on_its_own(bn_results):
    r = bn_results
    # the loss of the first step against NumPy, statistics over 1, 2 and 4 parts of the batch
    assert r["sync1"]["loss"] == pytest.approx(r["numpy1"]["loss"], rel=1e-5)
    assert r["per_device2"]["loss"] == pytest.approx(r["numpy2"]["loss"], rel=1e-5)
    assert r["per_device4"]["loss"] == pytest.approx(r["numpy4"]["loss"], rel=1e-5)
    assert r["numpy2"]["loss"] != pytest.approx(r["numpy1"]["loss"], rel=1e-2)
    # running averages: towards the mean over the devices of their statistics
    for name, reference in (("per_device2", "numpy2"), ("per_device4", "numpy4")):
        for stat in ("mean", "inv_std"):
            np.testing.assert_allclose(
                r[name]["running"][stat], r[reference][stat], rtol=1e-5, atol=1e-6
            )
    # three SGD steps: one device normalising each half separately (batch_norm_groups=2)
    _same_params(r["per_device2"]["params"], r["groups2_one_device"])
    diff = max(
        np.abs(np.asarray(a) - np.asarray(b)).max()
        for a, b in zip(r["per_device2"]["params"], r["sync1"]["params"])
    )
    assert diff > 1e-2


def test_synchronised_batch_norm_on_two_devices_is_the_one_device_run(bn_results):
    r = bn_results
    assert r["sync2"]["loss"] == pytest.approx(r["sync1"]["loss"], rel=1e-6)
    for stat in ("mean", "inv_std"):
        np.testing.assert_allclose(
            r["sync2"]["running"][stat], r["numpy1"][stat], rtol=1e-5, atol=1e-6
        )
    _same_params(r["sync2"]["params"], r["sync1"]["params"])


@pytest.mark.slow
def test_dropout_draws_the_same_masks_on_any_number_of_devices(tmp_path_factory):
    r = _run("dropout", tmp_path_factory)
    for devices in ("2", "4"):
        _same_params(r[f"fit-{devices}"]["params"], r["fit-None"]["params"])
        np.testing.assert_allclose(r[f"fit-{devices}"]["loss"], r["fit-None"]["loss"], rtol=1e-5)
