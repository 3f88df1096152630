"""convnet._malloc: large freed blocks stay in the process, so the next step reuses them."""

import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the tuning acts on glibc's malloc only",
)

# Allocates 64 MiB with malloc, writes it, frees it, and counts the page faults of a second
# allocation of the same size: with glibc's defaults the block is mmapped afresh and every
# 4 KiB page faults again (unless the kernel backs it with huge pages); once tuned, the freed
# block is reused and its pages are already there.
_SCRIPT = textwrap.dedent(
    """
    import ctypes, json, resource, sys
    import pytensor.tensor as T
    import convnet, convnet._malloc

    x = T.dvector("x")
    convnet.function([x], 2 * x, mode="py")
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = (ctypes.c_size_t,)
    libc.free.argtypes = (ctypes.c_void_p,)
    size = 64 << 20

    def touch():
        block = libc.malloc(size)
        ctypes.memset(block, 1, size)
        return block

    libc.free(touch())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = touch()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    libc.free(block)
    print(json.dumps({"tuned": convnet._malloc.tuned, "faults": faults}))
    """
)


def _run(**env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    environ.pop("CONVNET_NO_MALLOC_TUNING", None)
    environ.update(env)
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=environ, capture_output=True, text=True, check=True
    )
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def _huge_pages_always():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return "[always]" in f.read()
    except OSError:
        return False


def test_function_tunes_malloc_so_a_freed_large_block_is_reused_without_page_faults():
    result = _run()
    assert result["tuned"] is True
    assert result["faults"] < 256, result  # 64 MiB in 4 KiB pages would be 16384


def test_the_opt_out_and_the_users_own_settings_leave_malloc_alone():
    for env in ({"CONVNET_NO_MALLOC_TUNING": "1"}, {"MALLOC_MMAP_THRESHOLD_": "131072"}):
        result = _run(**env)
        assert result["tuned"] is False, env
        if not _huge_pages_always():  # with glibc's defaults every page faults again
            assert result["faults"] > 8000, (env, result)


def test_tune_acts_once_and_reports_it(monkeypatch):
    from convnet import _malloc

    monkeypatch.setattr(_malloc, "tuned", False)
    monkeypatch.setenv("CONVNET_NO_MALLOC_TUNING", "1")
    assert _malloc.tune() is False
    monkeypatch.setenv("CONVNET_NO_MALLOC_TUNING", "0")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536")
    assert _malloc.tune() is False
    monkeypatch.delenv("GLIBC_TUNABLES")
    assert _malloc.tune() is True
    assert _malloc.tuned is True
