"""``python -m tests.durability --kills N [--kind K ...] [--seed S]``: see the package doc."""

from __future__ import annotations

import argparse
import sys
import time

from . import harness, saves


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.durability")
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--kind", action="append", choices=saves.KINDS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-trainer", action="store_true", help="skip the trainer kind")
    args = parser.parse_args(argv)
    kinds = args.kind or [k for k in saves.KINDS if not (args.no_trainer and k == "trainer_fit")]
    h = harness.KillHarness(seed=args.seed)
    if "trainer_fit" in kinds:
        sys.path.insert(0, "tests/training")
        import _tinynet as tn

        h.trainer = tn.make_trainer(tn.build_net())
        h.trainer.compile("int32", 1)
    start = time.monotonic()
    try:
        for i in range(args.kills):
            outcome = h.kill_once(kinds[i % len(kinds)])
            print(i + 1, outcome, flush=True)
    finally:
        h.close()
    print(f"{time.monotonic() - start:.0f} s")
    print(h.summary())
    return 0 if all(r["ok"] for r in h.results) else 1


if __name__ == "__main__":
    sys.exit(main())
