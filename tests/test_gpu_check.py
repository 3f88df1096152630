"""benchmarks/gpu_check.sh runs end to end on the CPU from a wheelhouse (slow: it downloads
PyTensor's wheels from the package index and trains)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_gpu_check_runs_end_to_end_on_the_cpu(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)
    wheelhouse = tmp_path / "wheelhouse"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    made = subprocess.run(
        ["bash", "benchmarks/make_wheelhouse.sh", "--python", version, "--out", str(wheelhouse)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    size = sum(p.stat().st_size for p in wheelhouse.iterdir())
    assert size < 60 * 2**20, size
    assert any(p.name.startswith("convnet-") for p in wheelhouse.iterdir())
    out = tmp_path / "out"
    run = subprocess.run(
        [
            "bash",
            "benchmarks/gpu_check.sh",
            "--device",
            "cpu",
            "--quick",
            "--wheelhouse",
            str(wheelhouse),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads((out / "gpu_check.json").read_text())
    assert summary["status"] == 0
    assert [summary[k]["rc"] for k in ("ops_jax", "compat_float32", "train_step")] == [0, 0, 0]
    # The installed wheel ran, not this checkout.
    assert str(ROOT / "convnet") not in (out / "log.txt").read_text()
    bench = json.loads((out / "train_step.json").read_text())
    assert {r["kind"] for r in bench["results"].values()} == {"train", "predict"}
    assert "ratio" in (out / "report.txt").read_text()
