"""Mutations, the worker process and the verdict on each fuzzed input."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

from hypothesis import strategies as st

from . import readers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: Seconds one input may take; beyond, the reader is taken to hang.
TIME_LIMIT = 20.0
#: Bytes of address space a reader may add to the worker's (after its imports).
MEMORY_HEADROOM = 1 << 30

_INTERESTING = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """``seed`` with 1 to 6 mutations: flips, overwritten bytes/ints, cuts, insertions."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "byte", "int", "cut", "insert", "dup"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "int":
            value = draw(st.sampled_from(_INTERESTING))
            width = draw(st.sampled_from([1, 2, 4, 8]))
            order = draw(st.sampled_from(["little", "big"]))
            data[pos : pos + width] = (value % (1 << (8 * width))).to_bytes(width, order)
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "dup" and data:
            end = draw(st.integers(pos, min(len(data), pos + 64)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


@st.composite
def idx_header(draw) -> bytes:
    """A generated IDX header (any type code, 0-4 dimensions of any uint32) and some data."""
    code = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]))
    dims = draw(st.lists(st.sampled_from(_INTERESTING + [3, 5, 28, 60000]), max_size=4))
    body = draw(st.binary(max_size=256))
    import struct

    return struct.pack(">HBB", 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims) + body


@dataclass
class Worker:
    """A long-lived worker subprocess (restarted after a crash or a hang)."""

    process: subprocess.Popen | None = None
    folder: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="convnet-fuzz-"))
    count: int = 0

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.worker", str(MEMORY_HEADROOM)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        ready = self._line(300.0)
        if ready is None or "ready" not in json.loads(ready):
            raise RuntimeError(f"the fuzz worker did not start: {ready!r}")

    def _line(self, timeout: float) -> str | None:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            return None
        return self.process.stdout.readline() or None

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process.stdin.close()
            self.process.stdout.close()
            self.process = None

    def run(self, reader: str, data: bytes, time_limit: float = TIME_LIMIT) -> dict:
        """Read ``data`` (as the reader's file) in the worker; the outcome as a dict."""
        if self.process is None:
            self.start()
        self.count += 1
        path = os.path.join(self.folder, readers.FILENAMES.get(reader, reader))
        with open(path, "wb") as f:
            f.write(data)
        self.process.stdin.write(json.dumps({"reader": reader, "path": path}) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], time_limit)
        line = self.process.stdout.readline() if ready else None
        if not line:
            if line == "":  # end of the pipe: the worker died
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    pass
            status = self.process.poll()
            self.stop()
            if status is None:
                return {"error": "Hang", "message": f"no answer in {time_limit} s"}
            return {"error": "Crash", "message": f"the worker died with status {status}"}
        return json.loads(line)


def verdict(outcome: dict) -> str | None:
    """None when the outcome is allowed, else what is wrong."""
    if "ok" in outcome:
        return None
    if outcome.get("expected"):
        return None
    return f"{outcome['error']}: {outcome['message'][:500]}"
