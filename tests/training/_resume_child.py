"""Child process for the resume-after-SIGKILL tests (run as a script, not collected).

    python _resume_child.py OUT_DIR full|killed|resume

``full`` trains 4 epochs without interruption; ``killed`` does the same but SIGKILLs
itself in the middle of writing the checkpoint after step 15 (epoch 3, batch 3), leaving
a half-written temporary file; ``resume`` loads the last checkpoint and finishes. ``full``
and ``resume`` write the final parameters (final.npz) and history (history.json).
"""

import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _tinynet as tn  # noqa: E402
import numpy as np  # noqa: E402

from convnet.training import Callback, EarlyStopping, ModelCheckpoint, StepDecay  # noqa: E402

KILL_AT_STEP = 15


class KillDuringNextWrite(Callback):
    """Makes the checkpoint write after step KILL_AT_STEP die half-way through."""

    order = 99  # just before ModelCheckpoint

    def on_batch_end(self, batch, logs):
        if self.trainer.global_step != KILL_AT_STEP:
            return
        real_fdopen = os.fdopen

        class HalfThenDie:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def write(self, data):
                self.f.write(data[: len(data) // 2])
                self.f.flush()
                os.fsync(self.f.fileno())
                os.kill(os.getpid(), signal.SIGKILL)

        os.fdopen = lambda fd, *a, **k: HalfThenDie(real_fdopen(fd, *a, **k))


def main(out_dir, mode):
    X, y = tn.blobs(128, seed=0)
    trainer = tn.make_trainer()
    ckpt = os.path.join(out_dir, "ckpt.h5")
    callbacks = [
        StepDecay(step_size=2, gamma=0.5),
        EarlyStopping(monitor="val_loss", patience=10),
        ModelCheckpoint(ckpt, every_n_batches=3),
    ]
    if mode == "killed":
        callbacks.append(KillDuringNextWrite())
    if mode == "resume":
        trainer.load_checkpoint(ckpt)
        print(f"resumed at epoch {trainer.epoch} batch {trainer.batch_in_epoch}", flush=True)
    trainer.fit(
        X[:96],
        y[:96],
        epochs=4,
        batch_size=16,
        validation_data=(X[96:], y[96:]),
        callbacks=callbacks,
        seed=0,
        progress=False,
    )
    np.savez(os.path.join(out_dir, "final.npz"), *trainer.get_param_values())
    with open(os.path.join(out_dir, "history.json"), "w") as f:
        json.dump(trainer.history.to_dict(), f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
