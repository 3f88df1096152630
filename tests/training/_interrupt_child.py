"""Child process for the Ctrl-C test (run as a script, not collected).

    python _interrupt_child.py OUT_DIR

Trains the tiny network for 3 epochs of 12 steps, printing ``STEP n`` after every step
(slowly, so that the parent's SIGINT lands mid-epoch), with a checkpoint every 4 steps.
After fit returns it prints ``RETURNED epochs global_step``, calls fit again to finish and
prints whether the final parameters equal those of an uninterrupted run (``MATCH True``).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _tinynet as tn  # noqa: E402
import numpy as np  # noqa: E402

from convnet.training import Callback, ModelCheckpoint  # noqa: E402


class Announce(Callback):
    def on_batch_end(self, batch, logs):
        print(f"STEP {self.trainer.global_step}", flush=True)
        time.sleep(0.05)


def run(trainer, out_dir, callbacks):
    X, y = tn.blobs(96, seed=0)
    return trainer.fit(X, y, epochs=3, batch_size=8, seed=0, callbacks=callbacks, progress=False)


def main(out_dir):
    ck = ModelCheckpoint(os.path.join(out_dir, "ckpt.h5"), every_n_batches=4)
    trainer = tn.make_trainer()
    history = run(trainer, out_dir, [ck, Announce()])
    print(f"RETURNED {len(history)} {trainer.global_step}", flush=True)
    run(trainer, out_dir, [ck])
    reference = tn.make_trainer()
    run(reference, out_dir, [])
    same = all(
        np.array_equal(a, b)
        for a, b in zip(trainer.get_param_values(), reference.get_param_values())
    )
    print(f"MATCH {same} {trainer.global_step}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
