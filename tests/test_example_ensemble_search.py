"""Smoke test of examples/ensemble_search.py on tiny synthetic data."""

import importlib.util
import inspect
import json
import pathlib
import sys

import numpy as np
import pytensor

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "ensemble_search.py"


def load_example():
    name = "ensemble_search_example"
    if name not in sys.modules:  # registered: its dataclass looks its module up by name
        spec = importlib.util.spec_from_file_location(name, EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_command_line_maps_onto_main():
    ex = load_example()
    args = ex._parse(["--trials", "3", "--synthetic", "--executor", "serial", "--out", "x"])
    assert set(args) <= set(inspect.signature(ex.main).parameters)
    assert (args["n_trials"], args["synthetic"], args["executor"], args["out_dir"]) == (
        3,
        True,
        "serial",
        "x",
    )


def test_example_runs_end_to_end_on_synthetic_data(tmp_path):
    ex = load_example()
    kwargs = dict(
        out_dir=str(tmp_path),
        n_train=128,
        n_val=64,
        n_test=64,
        n_trials=2,
        epochs=1,
        top_k=2,
        executor="serial",
        synthetic=True,
        mode=pytensor.compile.mode.get_mode("FAST_COMPILE"),  # compiles in a fraction
        verbose=False,
    )
    summary = ex.main(**kwargs)
    for name in ("ensemble_accuracy.png", "ensemble_saliency.png", "ensemble_adversarial.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(json.dumps(summary))
    records = [json.loads(line) for line in (tmp_path / "search.jsonl").read_text().splitlines()]
    assert [r["trial"] for r in records] == [0, 1]
    assert all(r["status"] in ("ok", "stopped") for r in records)
    names = [r["name"] for r in summary["ensemble_report"]]
    assert sorted(names[:2]) == ["trial 0", "trial 1"]
    assert names[2:] == [
        "hard vote",
        "soft vote",
        "weighted mean",
        "rank average",
        "stacking",
        "blending",
    ]
    # the report's accuracies are those of the saved member predictions
    y_test = ex.load_data(ex.DataSpec(None, 128, 64, 64, 0, True))["y_test"]
    for row in summary["ensemble_report"][:2]:
        trial = int(row["name"].split()[1])
        proba = np.load(tmp_path / "members" / f"trial_{trial:03d}.npz")["test"]
        assert row["accuracy"] == float(np.mean(proba.argmax(axis=1) == y_test))
    assert 0.0 <= summary["fgsm_success_rate"] <= 1.0
    # a second run resumes from the results file: no trial runs again
    ex.main(**{**kwargs, "explain": False})
    assert len((tmp_path / "search.jsonl").read_text().splitlines()) == 2
