"""A Lasagne script runs after changing only its imports."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SCRIPT = HERE / "lasagne_style_script.py"


def test_script_changes_only_the_imports():
    text = SCRIPT.read_text()
    imports = [line for line in text.splitlines() if re.match(r"(import|from) ", line)]
    assert imports == [
        "import sys",
        "import numpy as np",
        "import pytensor as theano",
        "import pytensor.tensor as T",
        "import convnet as lasagne",
    ]


@pytest.mark.parametrize(
    "mode",
    [
        "JAX",
        "CVM",
        # PyTensor's own default (numba) compiles this graph in minutes on 2 cores.
        pytest.param("default", marks=pytest.mark.slow),
    ],
)
def test_lasagne_style_script_trains(tmp_path, mode):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if mode != "default":  # a Theano user's THEANO_FLAGS become PYTENSOR_FLAGS
        env["PYTENSOR_FLAGS"] = f"mode={mode}"
    out = tmp_path / "model.npz"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "15", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", proc.stdout).group(1))
    losses = [float(v) for v in re.findall(r"training loss: ([0-9.]+)", proc.stdout)]
    assert len(losses) == 15
    assert losses[-1] < losses[0]
    assert accuracy >= 0.9, proc.stdout
    assert "reloaded parameters identical: True" in proc.stdout
    assert out.exists()
