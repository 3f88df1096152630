"""Long fuzzing run: ``python -m tests.fuzz --minutes N [--reader NAME ...]``.

Runs from the repository root. Readers take turns in rounds of ``--batch`` Hypothesis
examples (mutated seeds; for ``idx`` also generated headers) until the time is up, then
prints the inputs tried per reader and every failure (its input is saved under
``--out``). Exit status 1 if anything failed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import harness, readers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--reader", action="append", choices=readers.READERS)
    parser.add_argument("--batch", type=int, default=100, help="examples per turn")
    parser.add_argument("--out", default="fuzz-failures", help="folder for failing inputs")
    args = parser.parse_args(argv)
    chosen = args.reader or list(readers.READERS)
    seeds = readers.seeds()
    worker = harness.Worker()
    worker.start()
    counts = dict.fromkeys(chosen, 0)
    failures: list[tuple[str, str, str]] = []
    stop_at = time.monotonic() + 60 * args.minutes
    turn = 0

    def record(reader: str, blob: bytes) -> None:
        counts[reader] += 1
        problem = harness.verdict(worker.run(reader, blob))
        if problem is not None:
            os.makedirs(args.out, exist_ok=True)
            name = os.path.join(args.out, f"{reader}-{hashlib.sha1(blob).hexdigest()[:12]}")
            with open(name, "wb") as f:
                f.write(blob)
            failures.append((reader, name, problem))
            print(f"FAIL {reader}: {problem} (input: {name})", flush=True)

    rounds = settings(
        max_examples=args.batch,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        while time.monotonic() < stop_at:
            reader = chosen[turn % len(chosen)]
            turn += 1

            def make(reader: str):
                @rounds
                @given(st.data())
                def one_round(data):
                    if reader == "idx" and data.draw(st.booleans()):
                        record(reader, data.draw(harness.idx_header()))
                    else:
                        record(reader, data.draw(harness.mutated(seeds[reader])))

                return one_round

            make(reader)()
    finally:
        worker.stop()
    total = sum(counts.values())
    print(f"{total} inputs in {args.minutes} min; per reader:")
    for reader, n in counts.items():
        print(f"  {reader:14s} {n}")
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
