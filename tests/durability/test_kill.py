"""SIGKILL during every kind of save leaves a complete file and a run that resumes."""

from __future__ import annotations

import pytest

from tests.durability import harness, saves


@pytest.fixture(scope="module")
def killer():
    h = harness.KillHarness(seed=1)
    yield h
    h.close()


#: A short version for the default suite; the others run in the slow tests below.
QUICK = ("checkpoint", "preprocessing")


@pytest.mark.parametrize(
    "kind",
    [k if k in QUICK else pytest.param(k, marks=pytest.mark.slow) for k in saves.KINDS
     if k not in saves.SPAWNED],
)  # fmt: skip
def test_kill_during_save_leaves_a_complete_file(killer, kind):
    outcome = killer.kill_once(kind, max_delay=0.2)
    assert outcome["ok"], outcome


@pytest.mark.slow
def test_kill_during_training_with_checkpoint_callback(killer):
    import sys

    sys.path.insert(0, harness.ROOT + "/tests/training")
    import _tinynet as tn

    killer.trainer = tn.make_trainer(tn.build_net())
    killer.trainer.compile("int32", 1)
    for _ in range(3):
        outcome = killer.kill_once("trainer_fit")
        assert outcome["ok"], outcome


@pytest.mark.slow
def test_many_kills_across_all_save_paths(killer):
    for i in range(8 * len(saves.KINDS)):
        kind = [k for k in saves.KINDS if k not in saves.SPAWNED][i % (len(saves.KINDS) - 1)]
        outcome = killer.kill_once(kind)
        assert outcome["ok"], outcome
