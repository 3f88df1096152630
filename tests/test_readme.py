"""The README's examples run as written."""

import math
import re
import subprocess
import sys
from pathlib import Path

import pytensor
import pytensor.tensor

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_python_block_is_tested():
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(blocks) == 2 and "import convnet as lasagne" in blocks[0]


def test_the_lasagne_imports_run():
    block = re.search(r"runs after changing only its imports:\n\n```python\n(.*?)```", README, re.S)
    scope = {}
    exec(compile(block.group(1), "README.md", "exec"), scope)
    assert scope["lasagne"].layers.DenseLayer.__module__.startswith("convnet.layers")
    assert scope["theano"].function is pytensor.function
    assert scope["T"].tensor4 is pytensor.tensor.tensor4


def test_readme_network_example_runs_in_float32_without_warnings():
    heading = re.search(r"## A network in (\d+) lines\n\n```python\n(.*?)```", README, re.S)
    block = heading.group(2)
    assert len([line for line in block.splitlines() if line.strip()]) == int(heading.group(1))
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
