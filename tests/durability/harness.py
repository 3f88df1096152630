"""Start save loops, SIGKILL them at random moments, check what they leave."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import saves

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_FILES = {
    "save_params_h5": "net.h5",
    "save_params_npz": "net.npz",
    "checkpoint": "ck.h5",
    "preprocessing": "prep.h5",
    "preprocessing_group": "prep.h5",
    "search_results": "runs.jsonl",
    "download": "data.bin",
    "extract": "dataset",
    "trainer_fit": "ck.h5",
}


class _Slow(BaseHTTPRequestHandler):
    """Serves the payload in small pieces, honouring Range, so kills land mid-transfer."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        data = saves.payload()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        try:
            for i in range(0, len(body), 100_000):
                self.wfile.write(body[i : i + 100_000])
                time.sleep(0.002)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format, *args):
        pass


@dataclass
class KillHarness:
    seed: int = 0
    folder: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="convnet-kill-"))
    results: list = field(default_factory=list)
    trainer: object = None

    def __post_init__(self):
        self.rng = random.Random(self.seed)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/data.bin"
        self.env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
        self.zygote = subprocess.Popen(
            [sys.executable, "-m", "tests.durability.child", "--zygote"],
            cwd=ROOT, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        if self.zygote.stdout.readline().strip() != "ready":
            raise RuntimeError("the kill harness's zygote did not start")

    def close(self):
        self.zygote.stdin.close()
        self.zygote.wait(30)
        self.zygote.stdout.close()
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def kill_once(self, kind: str, max_delay: float = 0.4) -> dict:
        """One save loop, killed at a random moment after its first complete save."""
        case = tempfile.mkdtemp(prefix=kind + "-", dir=self.folder)
        path = os.path.join(case, _FILES[kind])
        progress = os.path.join(case, "progress")
        url = self.url if kind == "download" else "-"
        if kind in saves.SPAWNED:
            child = subprocess.Popen(
                [sys.executable, "-m", "tests.durability.child", kind, path, url, progress],
                cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            pid = child.pid
        else:
            child = None
            self.zygote.stdin.write(f"{kind} {path} {url} {progress}\n")
            self.zygote.stdin.flush()
            pid = int(self.zygote.stdout.readline())
        deadline = time.monotonic() + 600
        while not (os.path.exists(progress) and os.path.getsize(progress) > 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                raise RuntimeError(f"{kind}: the save loop never completed a first save")
            time.sleep(0.01)
        time.sleep(self.rng.uniform(0, max_delay))
        os.kill(pid, signal.SIGKILL)
        if child is not None:
            child.wait()
        else:
            time.sleep(0.05)
        with open(progress) as f:
            saved = len(f.read().split())
        outcome = {"kind": kind, "saves_before_kill": saved}
        try:
            outcome["found"] = saves.check(kind, path, None if url == "-" else url, self.trainer)
            outcome["ok"] = True
        except Exception as exc:  # any failure to read is what this harness counts
            outcome["ok"] = False
            outcome["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        outcome["leftovers"] = len(saves.leftovers(path))
        self.results.append(outcome)
        shutil.rmtree(case, ignore_errors=True)
        return outcome

    def summary(self) -> str:
        kills = Counter(r["kind"] for r in self.results)
        bad = [r for r in self.results if not r["ok"]]
        lines = [f"{len(self.results)} SIGKILLs, {len(bad)} unreadable or half-written files"]
        for kind, n in kills.items():
            failed = sum(not r["ok"] for r in self.results if r["kind"] == kind)
            lines.append(f"  {kind:20s} {n:4d} kills, {failed} bad")
        lines += [f"  BAD {r}" for r in bad]
        return "\n".join(lines)
