"""The fuzz worker: reads inputs in a subprocess with a limited address space.

Protocol: one JSON object per line on stdin, ``{"reader": name, "path": file}``; one JSON
object per line on stdout, ``{"ok": description}`` or ``{"error": type name, "message":
text, "expected": bool}`` where ``expected`` means a ValueError or OSError whose message
names the file. The first line written is ``{"ready": address space limit in bytes}``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import warnings


def main() -> int:
    headroom = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 30
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    warnings.simplefilter("ignore")
    from tests.fuzz import readers

    readers.read  # noqa: B018 -- import the readers' modules before limiting memory
    import convnet.datasets.mnist  # noqa: F401
    import convnet.io  # noqa: F401
    import convnet.preprocessing  # noqa: F401
    import convnet.training.trainer  # noqa: F401
    import convnet.transfer  # noqa: F401

    with open("/proc/self/status") as f:
        size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
    limit = size + headroom
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out = sys.stdout
    out.write(json.dumps({"ready": limit}) + "\n")
    out.flush()
    for line in sys.stdin:
        job = json.loads(line)
        path = job["path"]
        try:
            result = {"ok": readers.read(job["reader"], path)}
        except (ValueError, OSError) as exc:
            text = str(exc)
            result = {"error": type(exc).__name__, "message": text[:2000], "expected": path in text}
        except BaseException as exc:  # reported, judged by the harness
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            result = {"error": type(exc).__name__, "message": str(exc)[:2000], "expected": False}
        out.write(json.dumps(result) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
