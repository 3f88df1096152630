"""Tests of convnet.search: spaces, seeds, early stopping, results files and executors."""

import concurrent.futures
import csv
import io
import json
import math

import numpy as np
import pytest

from convnet import search as S

# Worker processes import this module to find the trial functions: keep its imports light
# (scipy.stats is imported inside the tests that use it).

# ----------------------------------------------------------------------------------------
# trial functions (module level: worker processes import them from here)
# ----------------------------------------------------------------------------------------


def noisy_descent_trial(config, context):
    """Noisy gradient descent on a quadratic: the result depends on config and seed."""
    rng = context.rng()
    x = rng.normal(size=5)
    target = np.arange(5.0)
    loss = float("nan")
    for _ in range(config["epochs"]):
        x = x - config["lr"] * 2 * (x - target) + config["noise"] * rng.normal(size=5)
        loss = float(np.sum((x - target) ** 2))
        if context.report(loss=loss):
            break
    return {"final_loss": loss, "width": config["width"]}


def seeded_member(seed):
    return np.random.default_rng(seed).normal(size=3).tolist()


SPACE = {
    "lr": S.LogUniform(0.01, 0.5),
    "noise": S.Uniform(0.0, 0.2),
    "width": S.Choice([8, 16, 32]),
    "epochs": S.IntUniform(3, 12),
    "optimizer": "sgd",
}
SEARCH = dict(metric="loss", mode="min", patience=2)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


# ----------------------------------------------------------------------------------------
# executors give the same table
# ----------------------------------------------------------------------------------------


def test_local_processes_dask_and_serial_give_the_same_table(dask_client):
    serial = S.random_search(
        noisy_descent_trial, SPACE, n_trials=6, seed=7, executor="serial", **SEARCH
    )
    local = S.random_search(noisy_descent_trial, SPACE, n_trials=6, seed=7, max_workers=2, **SEARCH)
    dask = S.random_search(
        noisy_descent_trial, SPACE, n_trials=6, seed=7, executor=dask_client, **SEARCH
    )
    assert local.table() == serial.table()
    assert dask.table() == serial.table()
    assert [r["history"] for r in dask.records] == [r["history"] for r in serial.records]
    assert dask.best_config == local.best_config
    # the table is not trivially equal: trials differ and some stopped early
    assert len({r["config"]["lr"] for r in serial.records}) == 6
    assert len({r["seed"] for r in serial.records}) == 6
    assert {r["status"] for r in serial.records} <= {"ok", "stopped"}


def test_train_members_keeps_seed_order_on_every_executor(dask_client):
    seeds = [5, 3, 11]
    expected = [seeded_member(s) for s in seeds]
    assert S.train_members(seeded_member, seeds, executor="serial") == expected
    assert S.train_members(seeded_member, seeds, executor=dask_client) == expected
    # any concurrent.futures executor (local processes are tested with the search above)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert S.train_members(seeded_member, seeds, executor=pool) == expected


def test_process_executor_refuses_unpicklable_functions():
    with pytest.raises(
        TypeError,
        match=r"run_trials: the function .*<lambda>.* cannot be sent to worker processes"
        r".*executor='serial'",
    ):
        S.random_search(lambda c, ctx: {}, {"a": S.Uniform(0, 1)}, n_trials=1)
    with pytest.raises(TypeError, match=r"train_members: the function"):
        S.train_members(lambda s: s, [1])


# ----------------------------------------------------------------------------------------
# seeds and configurations
# ----------------------------------------------------------------------------------------


def test_trial_seeds_and_configs_are_deterministic_and_prefix_stable():
    seeds = [S.trial_seed(3, i) for i in range(50)]
    assert seeds == [S.trial_seed(3, i) for i in range(50)]
    assert len(set(seeds)) == 50
    assert all(0 <= s < 2**31 for s in seeds)
    assert S.trial_seed(4, 0) != S.trial_seed(3, 0)

    def configs(n, seed):
        res = S.random_search(lambda c, ctx: {}, SPACE, n_trials=n, seed=seed, executor="serial")
        return [r["config"] for r in res.records], [r["seed"] for r in res.records]

    short, long = configs(3, 1), configs(5, 1)
    assert long[0][:3] == short[0] and long[1][:3] == short[1]
    assert configs(3, 2)[0] != short[0]
    assert all(c["optimizer"] == "sgd" for c in long[0])


def test_context_receives_config_and_seed():
    seen = []

    def trial(config, context):
        seen.append((config, context.index, context.seed))

    S.run_trials(trial, [{"a": (1, 2)}, {"a": np.float32(0.5)}], seed=9, executor="serial")
    # configurations arrive as JSON gives them back: tuples as lists, NumPy scalars as floats
    assert seen == [({"a": [1, 2]}, 0, S.trial_seed(9, 0)), ({"a": 0.5}, 1, S.trial_seed(9, 1))]


def test_grid_search_enumerates_the_product():
    space = {
        "lr": S.LogUniform(1e-3, 1e-1),
        "layers": S.IntUniform(1, 3),
        "act": S.Choice(["relu", "tanh"]),
        "bs": 32,
    }
    configs = S.grid_configs(space, grid_size={"lr": 3, "layers": 2})
    assert len(configs) == 3 * 2 * 2
    assert [c["lr"] for c in configs[::4]] == pytest.approx([1e-3, 1e-2, 1e-1])
    assert {c["layers"] for c in configs} == {1, 3}
    assert all(c["bs"] == 32 for c in configs)
    res = S.grid_search(
        lambda c, ctx: {"score": -abs(math.log10(c["lr"]) + 2) - c["layers"]},
        space,
        grid_size=3,
        metric="score",
        executor="serial",
    )
    assert len(res) == 3 * 3 * 2
    assert res.best_config == {"lr": pytest.approx(0.01), "layers": 1, "act": "relu", "bs": 32}


# ----------------------------------------------------------------------------------------
# distributions
# ----------------------------------------------------------------------------------------


def test_log_uniform_is_uniform_in_log_space():
    from scipy import stats

    rng = np.random.default_rng(0)
    d = S.LogUniform(1e-4, 1e-1)
    x = np.array([d.sample(rng) for _ in range(2000)])
    assert x.min() >= 1e-4 and x.max() < 1e-1
    u = (np.log10(x) + 4) / 3
    assert stats.kstest(u, "uniform").pvalue > 0.01
    # about a third of the samples per decade, unlike a uniform draw (90% in the last)
    assert 0.28 < np.mean(x < 1e-3) < 0.39


def test_uniform_int_uniform_and_choice_draws():
    from scipy import stats

    rng = np.random.default_rng(1)
    u = np.array([S.Uniform(-1.0, 3.0).sample(rng) for _ in range(2000)])
    assert stats.kstest((u + 1) / 4, "uniform").pvalue > 0.01
    ints = [S.IntUniform(2, 5).sample(rng) for _ in range(2000)]
    assert all(isinstance(i, int) for i in ints)
    counts = np.bincount(ints, minlength=6)[2:]
    assert counts.min() > 400 and counts.sum() == 2000  # both ends included
    choices = [S.Choice(["a", "b", None]).sample(rng) for _ in range(3000)]
    assert {c: choices.count(c) for c in ("a", "b", None)}.keys() == {"a", "b", None}
    assert min(choices.count(c) for c in ("a", "b", None)) > 900


def test_distribution_errors_name_class_and_value():
    with pytest.raises(
        ValueError, match=r"LogUniform: expected 0 < low \(a log scale\), received low=0"
    ):
        S.LogUniform(0, 1)
    with pytest.raises(ValueError, match=r"Uniform: expected low < high, received low=2, high=1"):
        S.Uniform(2, 1)
    with pytest.raises(TypeError, match=r"IntUniform: low: expected an int, received 1.5"):
        S.IntUniform(1.5, 3)
    with pytest.raises(TypeError, match=r"Choice: options: expected JSON values.*received object"):
        S.Choice([object()])
    with pytest.raises(ValueError, match=r"Choice: options: expected at least one option"):
        S.Choice([])
    with pytest.raises(
        TypeError,
        match=r"random_search: space\['f'\]: expected a Distribution or a JSON constant, "
        r"received builtin_function_or_method",
    ):
        S.random_search(noisy_descent_trial, {"f": len}, n_trials=1, executor="serial")


# ----------------------------------------------------------------------------------------
# early stopping
# ----------------------------------------------------------------------------------------


def scripted_trial(config, context):
    for acc in config["curve"]:
        if context.report(acc=acc) and not config.get("ignore_stop"):
            break
    return {"last": config["curve"][-1]}


def test_patience_stops_a_trial_and_keeps_its_best():
    curves = [
        {"curve": [0.5, 0.6, 0.6, 0.55, 0.7, 0.8]},  # stops after two reports without gain
        {"curve": [0.5, 0.6, 0.7, 0.8]},  # keeps improving
        {"curve": [0.5, 0.4, 0.3, 0.9], "ignore_stop": True},  # ignores the signal
    ]
    res = S.run_trials(scripted_trial, curves, metric="acc", patience=2, executor="serial")
    a, b, c = res.records
    assert (a["status"], a["epochs"], a["metrics"]) == (
        "stopped",
        4,
        {"last": 0.8, "best_epoch": 2, "acc": 0.6},
    )
    assert [h["acc"] for h in a["history"]] == [0.5, 0.6, 0.6, 0.55]
    assert (b["status"], b["epochs"], b["metrics"]["acc"]) == ("ok", 4, 0.8)
    assert (c["status"], c["epochs"], c["metrics"]["acc"]) == ("stopped", 3, 0.5)
    assert res.best["trial"] == 1
    # without patience every epoch runs
    res = S.run_trials(scripted_trial, curves[:1], metric="acc", executor="serial")
    assert (res.records[0]["status"], res.records[0]["epochs"]) == ("ok", 6)


def test_returned_history_is_checked_by_the_search():
    def trial(config, context):
        return {"history": [{"loss": v} for v in (3.0, 2.0, 2.5, 2.4, 1.0)]}

    res = S.run_trials(trial, [{}], metric="loss", mode="min", patience=2, executor="serial")
    rec = res.records[0]
    assert rec["status"] == "stopped"
    assert [h["loss"] for h in rec["history"]] == [3.0, 2.0, 2.5, 2.4]
    assert rec["metrics"] == {"best_epoch": 2, "loss": 2.0}


# ----------------------------------------------------------------------------------------
# failures, results files and resuming
# ----------------------------------------------------------------------------------------


def failing_trial(config, context):
    if config["x"] == 2:
        raise RuntimeError("diverged at x=2")
    return {"score": float(config["x"])}


def test_failed_trials_are_recorded_and_skipped_when_ranking(capsys):
    res = S.run_trials(
        failing_trial,
        [{"x": 1}, {"x": 2}, {"x": 0}],
        metric="score",
        executor="serial",
        verbose=True,
    )
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == "trial 1: failed: RuntimeError: diverged at x=2"
    assert printed[0].startswith("trial 0: ok after 0 epochs, score=1 (")
    statuses = [r["status"] for r in res.records]
    assert statuses == ["ok", "failed", "ok"]
    assert res.records[1]["error"].startswith("RuntimeError: diverged at x=2")
    assert res.best["trial"] == 0
    assert [r["trial"] for r in res.ranked()] == [0, 2, 1]
    only_failed = S.run_trials(failing_trial, [{"x": 2}], metric="score", executor="serial")
    with pytest.raises(
        ValueError,
        match=r"no finished trial has the metric 'score' \(1 trials, 1 failed\); first error: "
        r"RuntimeError: diverged at x=2",
    ):
        _ = only_failed.best


def test_resume_skips_finished_trials_and_repairs_a_torn_line(tmp_path):
    path = tmp_path / "runs.jsonl"
    calls = []

    def trial(config, context):
        calls.append(context.index)
        return noisy_descent_trial(config, context)

    full = S.random_search(trial, SPACE, n_trials=5, seed=2, executor="serial", **SEARCH)
    calls.clear()
    S.random_search(
        trial, SPACE, n_trials=3, seed=2, results_file=path, executor="serial", **SEARCH
    )
    assert calls == [0, 1, 2]
    assert len(path.read_text().splitlines()) == 3
    with open(path, "ab") as f:  # an append interrupted half-way
        f.write(b'{"trial": 3, "seed": 1')
    calls.clear()
    resumed = S.random_search(
        trial, SPACE, n_trials=5, seed=2, results_file=path, executor="serial", **SEARCH
    )
    assert calls == [3, 4]
    assert resumed.table() == full.table()
    lines = path.read_text().splitlines()
    assert len(lines) == 5 and all(json.loads(line)["trial"] == i for i, line in enumerate(lines))
    calls.clear()
    again = S.random_search(
        trial, SPACE, n_trials=5, seed=2, results_file=path, executor="serial", **SEARCH
    )
    assert calls == [] and again.table() == full.table()


def test_resume_reruns_failed_trials(tmp_path):
    path = tmp_path / "runs.jsonl"
    S.run_trials(
        failing_trial, [{"x": 1}, {"x": 2}], metric="score", results_file=path, executor="serial"
    )

    def fixed(config, context):
        return {"score": float(config["x"])}

    res = S.run_trials(
        fixed, [{"x": 1}, {"x": 2}], metric="score", results_file=path, executor="serial"
    )
    assert [r["status"] for r in res.records] == ["ok", "ok"]
    assert [json.loads(line)["status"] for line in path.read_text().splitlines()] == [
        "ok",
        "failed",
        "ok",
    ]


def test_resume_refuses_a_results_file_from_another_search(tmp_path):
    path = tmp_path / "runs.jsonl"
    S.random_search(
        noisy_descent_trial, SPACE, n_trials=2, seed=1, results_file=path, executor="serial"
    )
    with pytest.raises(
        ValueError,
        match=r"holds trial 0 with config .* but this search's trial 0 has config "
        r".*different search",
    ):
        S.random_search(
            noisy_descent_trial, SPACE, n_trials=2, seed=2, results_file=path, executor="serial"
        )
    path.write_text('{"trial": 0}\n')
    with pytest.raises(ValueError, match=r"line 1 is not a trial record"):
        S.random_search(
            noisy_descent_trial, SPACE, n_trials=2, results_file=path, executor="serial"
        )


# ----------------------------------------------------------------------------------------
# the result: table, text, CSV, JSON
# ----------------------------------------------------------------------------------------


def test_result_table_text_csv_and_json(tmp_path):
    res = S.random_search(
        noisy_descent_trial, SPACE, n_trials=4, seed=3, executor="serial", **SEARCH
    )
    table = res.table()
    assert list(table[0])[:4] == ["trial", "seed", "status", "epochs"]
    assert {
        "lr",
        "noise",
        "width",
        "epochs",
        "optimizer",
        "loss",
        "final_loss",
        "best_epoch",
    } <= set(table[0])
    # a metric named like a parameter gets a prefix instead of overwriting it
    assert "metric.width" in table[0] and table[0]["metric.width"] == table[0]["width"]
    text = res.to_text().splitlines()
    assert text[0].split()[:4] == ["trial", "seed", "status", "epochs"]
    shown = [int(line.split()[0]) for line in text[2:]]
    assert shown == [r["trial"] for r in res.ranked()]
    assert res.ranked()[0]["metrics"]["loss"] == min(r["metrics"]["loss"] for r in res.records)
    assert len(res.to_text(top=2).splitlines()) == 4

    rows = list(csv.DictReader(io.StringIO(res.to_csv(tmp_path / "r.csv"))))
    assert (tmp_path / "r.csv").read_text() == res.to_csv()
    assert [float(r["loss"]) for r in rows] == [t["loss"] for t in table]
    data = json.loads(res.to_json(tmp_path / "r.json"))
    assert data["best_trial"] == res.best["trial"] and data["trials"] == res.records
    assert "duration_s" in res.table(timing=True)[0]


def test_run_trials_argument_errors():
    with pytest.raises(ValueError, match=r"patience needs a metric to watch"):
        S.run_trials(noisy_descent_trial, [{}], patience=2, executor="serial")
    with pytest.raises(
        ValueError, match=r"run_trials: mode: expected one of 'max', 'min', received 'best'"
    ):
        S.run_trials(noisy_descent_trial, [{}], mode="best", executor="serial")
    with pytest.raises(
        TypeError, match=r"fn: expected a function of \(config, context\), received .*\(seed\)"
    ):
        S.run_trials(seeded_member, [{}], executor="serial")
    with pytest.raises(
        TypeError, match=r"executor: expected None or 'process'.*received str 'threads'"
    ):
        S.run_trials(noisy_descent_trial, [{}], executor="threads")
    with pytest.raises(ValueError, match=r"n_trials: expected a positive int, received 0"):
        S.random_search(noisy_descent_trial, SPACE, n_trials=0)


def _model_h5_bytes():
    import convnet.layers as L
    from convnet.io import hdf5_bytes, write_params_group

    net = L.DenseLayer(L.InputLayer((None, 4)), num_units=3)
    return hdf5_bytes(lambda f: write_params_group(f, net))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (_model_h5_bytes(), "line 1 is not (UTF-8 text|valid JSON)"),
        (b'{"class": "DenseLayer", "args": {"num_units": 3}}', "does not start like a trial"),
        (b'{"a": 1}\n{"b": 2}', "line 1 is not a trial record"),
        (b'{"trial": 0, "seed": 1, "config": {}, "status": "ok"}\nhello', "last line \\(2\\)"),
        (b"\xff\xfe not utf-8\n", "line 1 is not UTF-8 text"),
    ],
)
def test_a_file_that_is_not_results_is_left_unchanged(tmp_path, content, match):
    # Issue 13 (point 3): it was truncated at its last newline before being validated;
    # a non-UTF-8 file gave a bare UnicodeDecodeError.
    path = tmp_path / "runs.jsonl"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"results file '{path}'.*{match}"):
        S.run_trials(noisy_descent_trial, [{"lr": 0.1}], results_file=path, executor="serial")
    assert path.read_bytes() == content


def test_a_whole_record_without_its_newline_is_kept(tmp_path):
    path = tmp_path / "runs.jsonl"
    configs = [{"lr": 0.1, "noise": 0.0, "width": 8, "epochs": 3}]
    S.run_trials(noisy_descent_trial, configs, results_file=path, executor="serial", **SEARCH)
    first = path.read_bytes()
    path.write_bytes(first[:-1])  # the append stopped just before its newline
    calls = []

    def trial(config, context):
        calls.append(context.index)
        return noisy_descent_trial(config, context)

    S.run_trials(trial, configs, results_file=path, executor="serial", **SEARCH)
    assert calls == [] and path.read_bytes() == first
