"""Ctrl-C during fit: a real SIGINT sent to a training subprocess."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

CHILD = Path(__file__).with_name("_interrupt_child.py")
ROOT = Path(__file__).resolve().parents[2]


def test_sigint_finishes_the_step_reports_and_returns(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line.strip())
        if line.strip() == "STEP 6":  # epoch 1, in the middle
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=300)
    lines += out.splitlines()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    m = re.search(
        r"Trainer\.fit: interrupted at epoch 1, batch (\d+) \(step (\d+)\), after finishing "
        r"that step; last checkpoint '(.+ckpt\.h5)'; resume with "
        r"trainer\.load_checkpoint\('.+ckpt\.h5'\) and fit\(\.\.\.\) with the same arguments",
        err,
    )
    assert m is not None, err
    batch, step = int(m.group(1)), int(m.group(2))
    assert 6 <= step < 12 and batch == step  # stopped in epoch 1, right after a step
    assert f"RETURNED 0 {step}" in lines  # the History so far (no finished epoch)
    steps = [int(s.split()[1]) for s in lines if s.startswith("STEP")]
    assert steps[-1] == step  # no step after the one that was running
    # calling fit again continues exactly where it stopped
    assert "MATCH True 36" in lines
