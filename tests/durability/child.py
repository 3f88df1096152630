"""Run one save loop: ``python -m tests.durability.child KIND PATH URL PROGRESS``.

Also the zygote (``python -m tests.durability.child --zygote``): it imports convnet once,
then for each line ``KIND PATH URL PROGRESS`` on stdin forks a child running that loop
and prints the child's pid. Each finished save appends its version to PROGRESS.
"""

from __future__ import annotations

import os
import sys
import warnings


def run(kind: str, path: str, url: str, progress: str) -> None:
    from tests.durability import saves

    def report(v) -> None:
        with open(progress, "a") as f:
            f.write(f"{v}\n")

    saves.loop(kind, path, None if url == "-" else url, report)


def zygote() -> int:
    warnings.simplefilter("ignore")
    import convnet.datasets.download  # noqa: F401
    import convnet.io  # noqa: F401
    import convnet.preprocessing  # noqa: F401
    import convnet.search  # noqa: F401
    import convnet.training.checkpoint  # noqa: F401
    from tests.durability import saves  # noqa: F401

    print("ready", flush=True)
    for line in sys.stdin:
        kind, path, url, progress = line.split()
        pid = os.fork()
        if pid == 0:
            try:
                sys.stdin.close()
                run(kind, path, url, progress)
            finally:
                os._exit(1)
        print(pid, flush=True)
        # reap finished (killed) children
        while True:
            try:
                done, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if done == 0:
                break
    return 0


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    if sys.argv[1:] == ["--zygote"]:
        sys.exit(zygote())
    run(*sys.argv[1:5])
