"""The README's example runs as written."""

import math
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_network_example_runs_in_float32_without_warnings():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## A network in \d+ lines\n\n```python\n(.*?)```", text, re.S).group(1)
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", block],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    loss = float(proc.stdout.strip().splitlines()[-1])
    assert math.isfinite(loss) and loss > 0
