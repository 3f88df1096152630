"""Each reader, fed mutated valid files (and generated IDX headers), loads or raises
ValueError/OSError naming the file, within the harness's time and memory limits."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import harness, readers

EXAMPLES = 6
_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def worker():
    w = harness.Worker()
    w.start()
    yield w
    w.stop()


@pytest.fixture(scope="module")
def seeds():
    return readers.seeds()


def test_seeds_load(worker, seeds):
    for reader in readers.READERS:
        assert "ok" in worker.run(reader, seeds[reader]), reader


@pytest.mark.parametrize("reader", readers.READERS)
def test_mutated_files(worker, seeds, reader):
    @_SETTINGS
    @given(st.data())
    def check(data):
        blob = data.draw(harness.mutated(seeds[reader]))
        problem = harness.verdict(worker.run(reader, blob))
        assert problem is None, problem

    check()


def test_generated_idx_headers(worker):
    @_SETTINGS
    @given(harness.idx_header())
    def check(blob):
        problem = harness.verdict(worker.run("idx", blob))
        assert problem is None, problem

    check()


def test_the_harness_catches_unbounded_allocation(worker):
    outcome = worker.run("selftest", b"alloc")
    assert outcome["error"] == "MemoryError"
    assert "MemoryError" in harness.verdict(outcome)
    assert harness.verdict({"error": "ValueError", "message": "m", "expected": True}) is None
    assert harness.verdict({"error": "ValueError", "message": "m", "expected": False})


@pytest.mark.slow
def test_the_harness_catches_crashes_and_hangs(worker, seeds):
    assert harness.verdict(worker.run("selftest", b"abort")).startswith("Crash")
    assert harness.verdict(worker.run("selftest", b"sleep", time_limit=2)).startswith("Hang")
    assert "ok" in worker.run("idx", seeds["idx"])  # restarted


REGRESSIONS = os.path.join(os.path.dirname(__file__), "regressions")


@pytest.mark.parametrize("name", sorted(os.listdir(REGRESSIONS)))
def test_inputs_the_fuzzer_found(worker, name):
    """Inputs of earlier fuzzing runs that failed, named ``<reader>-<hash>``.

    checkpoint-b1ce38b19cb7: libhdf5 looped on its global heap (a variable-length
    attribute's heap object grew from 3 to 128 bytes). preprocessing-91f482d38074: its
    "fitted" attribute was renamed, and it loaded as an unfitted ZCAWhitening.
    hdf5_params-1fe4ba5f6213: a layer's "class" key in the architecture record was renamed
    (KeyError). npz-02fb187c1690: a member named "arr_²" (int() refused what isdigit took).
    npz-14c4e36d1ab8: a member name flagged as UTF-8 that is not (UnicodeDecodeError).
    """
    reader = name.rsplit("-", 1)[0]
    with open(os.path.join(REGRESSIONS, name), "rb") as f:
        outcome = worker.run(reader, f.read())
    assert harness.verdict(outcome) is None, outcome
    assert "error" in outcome and outcome["error"] == "ValueError", outcome
