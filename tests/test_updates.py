"""Tests for convnet.updates: golden trajectories, dtypes, state naming, norm constraints."""

import json
import os
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

import convnet
from convnet import updates as U

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "updates_trajectories.npz")


def _load_golden():
    with np.load(GOLDEN, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("cases")))
    return meta, arrays


META, ARRAYS = _load_golden()
CASES = {case["name"]: case for case in META["cases"]}


def _problem(dtype="float64"):
    """The golden problem: shared W, b and the symbolic loss (mirrors make_golden.py)."""
    X = ARRAYS["X"].astype(dtype)
    Y = ARRAYS["Y"].astype(dtype)
    W = pytensor.shared(ARRAYS["W0"].astype(dtype), name="W", shape=(4, 3))
    b = pytensor.shared(ARRAYS["b0"].astype(dtype), name="b", shape=(3,))
    # X @ W as a broadcast sum: keeps BLAS (and its configuration) out of these tests
    z = T.sum(T.constant(X)[:, :, None] * W[None, :, :], axis=1) + b
    loss = T.mean(T.softplus(z) - T.constant(Y) * z) + META["l2"] * T.sum(W**2)
    return W, b, loss


def _run_cases(names, mode, dtype="float64", lr_dtype="float64"):
    """Run the golden cases ``names`` side by side in ONE compiled function.

    Each case gets its own parameters and its learning rate in a shared variable (set
    between steps by the case's schedule); the other hyperparameters are Python numbers.
    One function for all cases keeps the compile time (the bulk of the cost) down.
    Returns {name: (W trajectory, b trajectory, update dictionary)}.
    """
    runs, all_updates, losses = [], OrderedDict(), []
    for name in names:
        case = CASES[name]
        W, b, loss = _problem(dtype)
        kwargs = dict(case["kwargs"])
        lr = pytensor.shared(np.asarray(kwargs.pop("learning_rate"), dtype=lr_dtype), name="lr")
        updates = getattr(U, case["rule"])(loss, [W, b], learning_rate=lr, **kwargs)
        all_updates.update(updates)
        losses.append(loss)
        schedule = {int(k): v for k, v in case["schedule"].items()}
        runs.append((name, W, b, lr, schedule, updates))
    step = convnet.function([], losses, updates=all_updates, mode=mode)
    values = {
        name: ([np.asarray(W.get_value())], [np.asarray(b.get_value())]) for name, W, b, *_ in runs
    }
    for i in range(META["steps"]):
        for _, _, _, lr, schedule, _ in runs:
            if i in schedule:
                lr.set_value(np.asarray(schedule[i], dtype=lr_dtype))
        step()
        for name, W, b, *_ in runs:
            values[name][0].append(np.asarray(W.get_value()))
            values[name][1].append(np.asarray(b.get_value()))
    return {
        name: (np.stack(values[name][0]), np.stack(values[name][1]), updates)
        for name, _, _, _, _, updates in runs
    }


# ----------------------------------------------------------------------------------------
# golden trajectories
# ----------------------------------------------------------------------------------------

# Every rule runs under both modes, every case under at least one: the default mode (JAX)
# runs the torch cases, the C backend the NumPy cases (non-negligible epsilon) and the torch
# cases of the rules without one. All cases of a mode share one compiled function.
DEFAULT_CASES = sorted(name for name, case in CASES.items() if case["source"] == "torch")
C_CASES = sorted(
    [name for name, case in CASES.items() if case["source"] == "numpy"]
    + ["sgd", "momentum", "nesterov"]
)
GOLDEN_RUNS = [(name, "default") for name in DEFAULT_CASES] + [(name, "c") for name in C_CASES]
RULES = {
    "sgd", "momentum", "nesterov_momentum", "adagrad", "rmsprop", "adadelta", "adam",
    "adamax", "amsgrad", "adamw",
}  # fmt: skip


@pytest.fixture(scope="module")
def golden_default():
    return _run_cases(DEFAULT_CASES, None)


@pytest.fixture(scope="module")
def golden_c():
    return _run_cases(C_CASES, "c")


@pytest.mark.parametrize("name, mode", GOLDEN_RUNS, ids=[f"{n}-{m}" for n, m in GOLDEN_RUNS])
def test_golden_trajectory(name, mode, request):
    Ws, bs, _ = request.getfixturevalue(f"golden_{mode}")[name]
    ref_W, ref_b = ARRAYS[f"{name}__W"], ARRAYS[f"{name}__b"]
    assert np.abs(ref_W[-1] - ref_W[0]).max() > 1e-3  # the reference moves
    np.testing.assert_allclose(Ws, ref_W, rtol=1e-9, atol=1e-12, err_msg=f"{name} ({mode})")
    np.testing.assert_allclose(bs, ref_b, rtol=1e-9, atol=1e-12, err_msg=f"{name} ({mode})")


def test_every_rule_has_golden_cases():
    assert {case["rule"] for case in CASES.values()} == RULES
    assert {CASES[name]["rule"] for name in DEFAULT_CASES} == RULES
    assert {CASES[name]["rule"] for name in C_CASES} == RULES
    assert set(DEFAULT_CASES) | set(C_CASES) == set(CASES)
    # every adaptive rule also has a case with a non-negligible epsilon
    eps_rules = {c["rule"] for c in CASES.values() if c["kwargs"].get("epsilon", 0) >= 1e-3}
    assert eps_rules == {"adagrad", "rmsprop", "adadelta", "adam", "adamax", "amsgrad", "adamw"}


def test_golden_file_is_what_the_script_makes():
    """The committed cases match the script's list (so regenerating gives this file)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_golden", os.path.join(os.path.dirname(GOLDEN), "make_golden.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert [c["name"] for c in META["cases"]] == [c[0] for c in mod.CASES]
    X, Y, W0, b0 = mod.problem()
    np.testing.assert_array_equal(X, ARRAYS["X"])
    np.testing.assert_array_equal(W0, ARRAYS["W0"])
    # The NumPy reference reproduces a stored torch trajectory without torch.
    case = CASES["adam_schedule"]
    sched = {int(k): v for k, v in case["schedule"].items()}
    W_np, _ = mod.numpy_trajectory(case["rule"], case["kwargs"], sched, X, Y, W0, b0)
    np.testing.assert_allclose(W_np, ARRAYS["adam_schedule__W"], rtol=1e-10)


def test_defaults_match_lasagne():
    import inspect

    expected = {
        "sgd": {},
        "momentum": {"momentum": 0.9},
        "nesterov_momentum": {"momentum": 0.9},
        "apply_momentum": {"params": None, "momentum": 0.9},
        "apply_nesterov_momentum": {"params": None, "momentum": 0.9},
        "adagrad": {"learning_rate": 1.0, "epsilon": 1e-6},
        "rmsprop": {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-6},
        "adadelta": {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-6},
        "adam": {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
        "adamax": {"learning_rate": 0.002, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
        "amsgrad": {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
        "adamw": {
            "learning_rate": 0.001,
            "beta1": 0.9,
            "beta2": 0.999,
            "epsilon": 1e-8,
            "weight_decay": 0.01,
            "decay_params": None,
        },
        "norm_constraint": {"norm_axes": None, "epsilon": 1e-7},
        "total_norm_constraint": {"epsilon": 1e-7, "return_norm": False},
    }
    for name, defaults in expected.items():
        sig = inspect.signature(getattr(U, name))
        got = {k: p.default for k, p in sig.parameters.items() if p.default is not inspect._empty}
        assert got == defaults, name
    assert list(inspect.signature(U.sgd).parameters) == [
        "loss_or_grads",
        "params",
        "learning_rate",
    ]


def test_equivalent_formulations():
    """Different ways to build the same rule give the golden trajectories (one compiled
    function for all): apply_momentum(sgd) = momentum, apply_nesterov_momentum(sgd) =
    nesterov_momentum, sgd on a list of gradients = sgd on the loss, adamw with
    decay_params=[] = adam, and adamw decaying only W differs from both."""
    assert CASES["momentum"]["kwargs"] == {"learning_rate": 0.1, "momentum": 0.9}
    assert CASES["nesterov"]["kwargs"] == {"learning_rate": 0.1, "momentum": 0.9}
    assert CASES["sgd"]["kwargs"] == {"learning_rate": 0.5}
    assert CASES["adam"]["kwargs"] == {"learning_rate": 0.01, "epsilon": 0.0}
    adamw_kwargs = CASES["adamw"]["kwargs"]

    def momentum_(W, b, loss):
        return U.apply_momentum(U.sgd(loss, [W, b], 0.1), [W, b], momentum=0.9)

    def nesterov_(W, b, loss):
        return U.apply_nesterov_momentum(U.sgd(loss, [W, b], 0.1), momentum=0.9)

    def sgd_(W, b, loss):
        return U.sgd(pytensor.grad(loss, [W, b]), [W, b], learning_rate=0.5)

    def adam_(W, b, loss):
        return U.adamw(loss, [W, b], decay_params=[], **adamw_kwargs)

    def adamw_W(W, b, loss):
        return U.adamw(loss, (W, b), decay_params=[W], **adamw_kwargs)

    builders = {"momentum": momentum_, "nesterov": nesterov_, "sgd": sgd_, "adam": adam_}
    builders["adamw_W"] = adamw_W
    params, updates, losses = {}, OrderedDict(), []
    for key, build in builders.items():
        W, b, loss = _problem()
        params[key] = (W, b)
        updates.update(build(W, b, loss))
        losses.append(loss)
    step = convnet.function([], losses, updates=updates)
    for _ in range(META["steps"]):
        step()
    for key in ["momentum", "nesterov", "sgd", "adam"]:
        W, b = (np.asarray(p.get_value()) for p in params[key])
        np.testing.assert_allclose(W, ARRAYS[f"{key}__W"][-1], rtol=1e-9, err_msg=key)
        np.testing.assert_allclose(b, ARRAYS[f"{key}__b"][-1], rtol=1e-9, err_msg=key)
    b_w_only = np.asarray(params["adamw_W"][1].get_value())
    assert np.abs(b_w_only - ARRAYS["adam__b"][-1]).max() > 1e-6
    assert np.abs(b_w_only - ARRAYS["adamw__b"][-1]).max() > 1e-6


def test_apply_momentum_on_adaptive_rule_matches_numpy():
    """apply_momentum wraps any rule's step: rmsprop + momentum vs a NumPy loop."""
    w0 = np.array([1.0, -2.0, 0.5])
    w = pytensor.shared(w0.copy(), name="w")
    loss = T.sum(w**4) / 4  # gradient w**3
    ups = U.apply_momentum(U.rmsprop(loss, [w], 0.05, rho=0.5), momentum=0.5)
    assert [v.name for v in ups] == ["w.accu", "w", "w.velocity"]
    step = convnet.function([], loss, updates=ups)
    p, accu, vel = w0.copy(), np.zeros(3), np.zeros(3)
    for _ in range(5):
        step()
        g = p**3
        accu = 0.5 * accu + 0.5 * g**2
        vel = 0.5 * vel - 0.05 * g / np.sqrt(accu + 1e-6)
        p = p + vel
    np.testing.assert_allclose(np.asarray(w.get_value()), p, rtol=1e-12)


FLOAT32_CASES = ["momentum", "adadelta", "amsgrad"]


@pytest.fixture(scope="module")
def float32_default():
    return _run_cases(FLOAT32_CASES, None, dtype="float32", lr_dtype="float64")


def test_float32_graphs_and_values_default_mode(float32_default):
    """float32 parameters with a float64 shared learning rate: every update expression
    is float32 and the values follow the float64 golden trajectories closely."""
    for name, (Ws, bs, ups) in float32_default.items():
        for var, expr in ups.items():
            assert var.dtype == "float32", (name, var.name)
            assert expr.dtype == "float32", (name, var.name)
        np.testing.assert_allclose(Ws, ARRAYS[f"{name}__W"], rtol=2e-4, atol=2e-5, err_msg=name)
        np.testing.assert_allclose(bs, ARRAYS[f"{name}__b"], rtol=2e-4, atol=2e-5, err_msg=name)


def test_float32_values_stay_float32_default_mode(float32_default):
    for name, (Ws, bs, _) in float32_default.items():
        assert Ws.dtype == np.float32 and bs.dtype == np.float32, name


def test_float32_stays_float32_c_mode():
    ((Ws, bs, ups),) = _run_cases(["adam"], "c", dtype="float32", lr_dtype="float64").values()
    assert all(v.dtype == e.dtype == "float32" for v, e in ups.items())
    assert Ws.dtype == np.float32 and bs.dtype == np.float32
    np.testing.assert_allclose(Ws, ARRAYS["adam__W"], rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("lr", [np.float64(0.01), "shared64"])
def test_float32_update_dtypes_every_rule(lr):
    """Every rule and every kind of hyperparameter gives float32 updates for float32
    parameters (checked on the graphs; the runs above check compiled values)."""
    for rule in sorted(RULES):
        W, b, loss = _problem("float32")
        lr_value = pytensor.shared(np.float64(0.01)) if lr == "shared64" else lr
        ups = getattr(U, rule)(loss, [W, b], learning_rate=lr_value)
        for v, e in ups.items():
            assert v.dtype == e.dtype == "float32", (rule, v.name, e.dtype)


def test_mixed_dtypes_each_param_keeps_its_dtype():
    w32 = pytensor.shared(np.ones(2, dtype="float32"), name="w32")
    w64 = pytensor.shared(np.ones(2, dtype="float64"), name="w64")
    loss = T.sum(w32**2) + T.sum(w64**2)
    ups = U.adam(loss, [w32, w64], learning_rate=0.1)
    assert {v.name: v.dtype for v in ups} == {
        "w32.m": "float32",
        "w32.v": "float32",
        "w32": "float32",
        "w64.m": "float64",
        "w64.v": "float64",
        "w64": "float64",
        "adam.t": "float64",
    }
    assert all(ups[v].dtype == v.dtype for v in ups)


# ----------------------------------------------------------------------------------------
# optimiser state
# ----------------------------------------------------------------------------------------


def _named_problem():
    W = pytensor.shared(np.ones((2, 2)), name="conv1.W")
    b = pytensor.shared(np.ones(2), name="conv1.b")
    return W, b, T.sum(W**2) + T.sum(b**2)


@pytest.mark.parametrize(
    "rule, states, step",
    [
        ("momentum", ["velocity"], None),
        ("nesterov_momentum", ["velocity"], None),
        ("adagrad", ["accu"], None),
        ("rmsprop", ["accu"], None),
        ("adadelta", ["accu", "delta_accu"], None),
        ("adam", ["m", "v"], "adam.t"),
        ("adamax", ["m", "u"], "adamax.t"),
        ("amsgrad", ["m", "v", "v_hat"], "amsgrad.t"),
        ("adamw", ["m", "v"], "adamw.t"),
    ],
)
def test_state_names_and_discovery(rule, states, step):
    W, b, loss = _named_problem()
    kwargs = {"learning_rate": 0.1} if rule in ("momentum", "nesterov_momentum") else {}
    ups = getattr(U, rule)(loss, [W, b], **kwargs)
    assert isinstance(ups, OrderedDict)
    state = U.get_optimizer_state(ups)
    names = sorted(v.name for v in state)
    expected = sorted(f"{p}.{s}" for p in ("conv1.W", "conv1.b") for s in states)
    expected += [step] if step else []
    assert names == sorted(expected)
    # exactly the keys that are not parameters
    assert set(state) == set(ups) - {W, b}
    for v in state:
        assert v.tag.optimizer_state == v.name.rsplit(".", 1)[-1]


def test_state_can_be_saved_and_restored():
    """Restoring the parameters and the listed state resumes the trajectory exactly: a
    state variable missing from get_optimizer_state would keep its later value."""
    W, b, loss = _problem()
    ups = U.adam(loss, [W, b], learning_rate=0.01, epsilon=0.0)
    step = convnet.function([], loss, updates=ups)
    for _ in range(10):
        step()
    checkpoint = [W, b, *U.get_optimizer_state(ups)]
    saved = {v.name: np.array(v.get_value()) for v in checkpoint}
    assert float(saved["adam.t"]) == 10.0
    for _ in range(5):  # move on, then go back to the checkpoint
        step()
    for v in checkpoint:
        v.set_value(saved[v.name])
    for _ in range(10):
        step()
    np.testing.assert_allclose(np.asarray(W.get_value()), ARRAYS["adam__W"][20], rtol=1e-9)
    np.testing.assert_allclose(np.asarray(b.get_value()), ARRAYS["adam__b"][20], rtol=1e-9)


def test_unnamed_params_named_by_position():
    a = pytensor.shared(np.ones(2))
    c = pytensor.shared(np.ones(2), name="c")
    ups = U.adagrad(T.sum(a**2) + T.sum(c**2), [a, c])
    assert [v.name for v in U.get_optimizer_state(ups)] == ["param0.accu", "c.accu"]


def test_state_shapes_match_params():
    W = pytensor.shared(np.ones((3, 1)), name="W", shape=(None, 1))
    ups = U.momentum(T.sum(W**2), [W], 0.1)
    (vel,) = U.get_optimizer_state(ups)
    assert vel.type.shape == (None, 1)
    assert vel.get_value().shape == (3, 1)


# ----------------------------------------------------------------------------------------
# norm constraints
# ----------------------------------------------------------------------------------------


def _np_norm_constraint(x, max_norm, axes, eps=1e-7):
    norms = np.sqrt((x**2).sum(axis=axes, keepdims=True))
    return x * np.clip(norms, 0, max_norm) / (norms + eps)


NORM_CASES = [
    # (shape, norm_axes, the axes NumPy sums over)
    ((5, 4), None, (0,)),
    ((3, 2, 4), None, (1, 2)),
    ((3, 2, 4, 4), None, (1, 2, 3)),
    ((2, 2, 3, 3, 3), None, (1, 2, 3, 4)),
    ((5, 4), (1,), (1,)),
    ((6,), (0,), (0,)),
    ((3, 2, 4), [-1], (2,)),
]


def test_norm_constraint_vs_numpy():
    rng = np.random.default_rng(0)
    inputs, outputs, values = [], [], []
    for shape, norm_axes, _ in NORM_CASES:
        # rows of different scales, so that some slices get clipped and some do not
        scale = rng.uniform(0.1, 3, size=shape[:1] + (1,) * (len(shape) - 1))
        values.append(rng.normal(size=shape) * scale)
        v = T.tensor(dtype="float64", shape=(None,) * len(shape))
        inputs.append(v)
        outputs.append(U.norm_constraint(v, 1.5, norm_axes=norm_axes))
    results = convnet.function(inputs, outputs)(*values)
    clipped = unclipped = 0
    for (shape, norm_axes, axes), x, out in zip(NORM_CASES, values, results):
        norms = np.sqrt((x**2).sum(axis=axes, keepdims=True))
        expected = x * np.clip(norms, 0, 1.5) / (norms + 1e-7)
        np.testing.assert_allclose(out, expected, rtol=1e-12, err_msg=str((shape, norm_axes)))
        assert np.sqrt((out**2).sum(axis=axes)).max() <= 1.5 + 1e-9
        clipped += int((norms > 1.5).sum())
        unclipped += int((norms < 1.5).sum())
    assert clipped > 0 and unclipped > 0


def test_norm_constraint_float32():
    v = T.tensor(dtype="float32", shape=(None, None))
    out = U.norm_constraint(v, 1.0)
    assert out.dtype == "float32"


def test_total_norm_constraint_vs_numpy():
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(3, 4)), rng.normal(size=(5,))]
    vs = [T.dmatrix(), T.dvector()]
    scaled, norm = U.total_norm_constraint(vs, 2.0, return_norm=True)
    f = convnet.function(vs, [*scaled, norm])
    out = f(*xs)
    total = np.sqrt(sum((x**2).sum() for x in xs))
    assert total > 2.0
    np.testing.assert_allclose(out[2], total, rtol=1e-12)
    for o, x in zip(out[:2], xs):
        np.testing.assert_allclose(o, x * 2.0 / (total + 1e-7), rtol=1e-12)
    # below the threshold: unchanged (up to epsilon)
    small = [x * 0.01 for x in xs]
    out = f(*small)
    for o, x in zip(out[:2], small):
        np.testing.assert_allclose(o, x, rtol=1e-5)
    # without return_norm: only the list
    assert isinstance(U.total_norm_constraint(vs, 2.0), list)


def test_total_norm_constraint_keeps_dtypes():
    scaled = U.total_norm_constraint([T.fvector(), T.dvector()], 1.0)
    assert [s.dtype for s in scaled] == ["float32", "float64"]


# ----------------------------------------------------------------------------------------
# get_or_compute_grads and bad arguments
# ----------------------------------------------------------------------------------------


def test_get_or_compute_grads():
    from pytensor.graph.basic import equal_computations

    w = pytensor.shared(np.array([1.0, 2.0]), name="w")
    loss = T.sum(w**3)
    g = U.get_or_compute_grads(loss, [w])
    assert isinstance(g, list) and len(g) == 1
    assert equal_computations(g, pytensor.grad(loss, [w]))
    given = [T.dvector()]
    assert U.get_or_compute_grads(given, [w]) is given
    assert U.get_or_compute_grads(tuple(given), [w]) == given


def test_bad_arguments():
    w = pytensor.shared(np.ones(2), name="w")
    loss = T.sum(w**2)
    with pytest.raises(ValueError, match=r"get_or_compute_grads: got 2 gradient expressions for 1"):
        U.get_or_compute_grads([w, w], [w])
    with pytest.raises(ValueError, match=r"params must contain shared variables only.*'x'"):
        U.sgd(loss, [T.dvector("x")], 0.1)
    with pytest.raises(TypeError, match=r"adam: params must be a list.*Wrap a single"):
        U.adam(loss, w)
    with pytest.raises(ValueError, match=r"sgd: params contains 'w' more than once"):
        U.sgd(loss, [w, w], 0.1)
    with pytest.raises(ValueError, match=r"rmsprop: the loss must be a scalar.*1 dimensions"):
        U.rmsprop(w**2, [w])
    with pytest.raises(
        ValueError,
        match=r"sgd: learning_rate must be a non-negative number, "
        r"received -0.1",
    ):
        U.sgd(loss, [w], -0.1)
    with pytest.raises(ValueError, match=r"adam: beta1 must be in \[0, 1\), received 1.0"):
        U.adam(loss, [w], beta1=1.0)
    with pytest.raises(ValueError, match=r"momentum: momentum must be in \[0, 1\), received 1.5"):
        U.momentum(loss, [w], 0.1, momentum=1.5)
    with pytest.raises(ValueError, match=r"adagrad: epsilon must be a non-negative number"):
        U.adagrad(loss, [w], epsilon=-1e-6)
    with pytest.raises(
        ValueError,
        match=r"learning_rate must be a non-negative number, "
        r"received nan",
    ):
        U.adadelta(loss, [w], learning_rate=float("nan"))
    with pytest.raises(TypeError, match=r"adamax: learning_rate must be a number or a symbolic"):
        U.adamax(loss, [w], learning_rate="0.1")
    with pytest.raises(ValueError, match=r"adamw: weight_decay must be a non-negative"):
        U.adamw(loss, [w], weight_decay=-1)
    other = pytensor.shared(np.ones(2), name="other")
    with pytest.raises(
        ValueError,
        match=r"adamw: decay_params must be a subset of params.*"
        r"'other'",
    ):
        U.adamw(loss, [w], decay_params=[other])
    with pytest.raises(ValueError, match=r"apply_momentum: parameter 'other' has no entry"):
        U.apply_momentum(U.sgd(loss, [w], 0.1), [other])
    with pytest.raises(TypeError, match=r"apply_nesterov_momentum: updates must be a mapping"):
        U.apply_nesterov_momentum([(w, w)])
    with pytest.raises(ValueError, match=r"sgd: gradient 0 has 2 dimensions but parameter 'w'"):
        U.sgd([T.dmatrix()], [w], 0.1)
    with pytest.raises(TypeError, match=r"get_optimizer_state: updates must be a mapping"):
        U.get_optimizer_state([w])


def test_norm_constraint_bad_arguments():
    with pytest.raises(
        ValueError,
        match=r"norm_constraint: cannot choose the norm axes for a "
        r"1-dimensional tensor_var.*Pass norm_axes",
    ):
        U.norm_constraint(T.dvector(), 1.0)
    with pytest.raises(
        ValueError,
        match=r"norm_constraint: norm_axes must be axes of the "
        r"2-dimensional tensor_var \(integers in \[-2, 1\]\), received \(2,\)",
    ):
        U.norm_constraint(T.dmatrix(), 1.0, norm_axes=(2,))
    with pytest.raises(ValueError, match=r"norm_constraint: max_norm must be a positive number"):
        U.norm_constraint(T.dmatrix(), 0)
    with pytest.raises(ValueError, match=r"total_norm_constraint: tensor_vars is empty"):
        U.total_norm_constraint([], 1.0)
    with pytest.raises(TypeError, match=r"total_norm_constraint: tensor_vars must be a list"):
        U.total_norm_constraint(T.dvector(), 1.0)


def test_symbolic_hyperparameters_not_validated_but_cast():
    w = pytensor.shared(np.ones(2, dtype="float32"), name="w")
    mu = T.dscalar("mu")
    ups = U.momentum(T.sum(w**2), [w], learning_rate=T.iscalar("lr"), momentum=mu)
    assert all(e.dtype == "float32" for e in ups.values())


# --------------------------------------------------------------------------------------------
# weight averaging (apply_ema) and Lookahead
# --------------------------------------------------------------------------------------------


def _quadratic(seed=0):
    """A float64 least-squares problem: loss(w) = |A w - b|^2 / 2, gradient A^T (A w - b)."""
    import pytensor

    rng = np.random.default_rng(seed)
    A, b = rng.standard_normal((6, 3)), rng.standard_normal(6)
    w0 = rng.standard_normal(3)
    w = pytensor.shared(w0.copy(), name="w")
    loss = 0.5 * ((pytensor.tensor.dot(A, w) - b) ** 2).sum()
    return A, b, w0, w, loss


def test_apply_ema_follows_the_recurrence_and_is_checkpointed():
    import convnet
    from convnet.updates import apply_ema, get_averages, get_optimizer_state, sgd, with_averages

    A, b, w0, w, loss = _quadratic()
    updates = apply_ema(sgd(loss, [w], learning_rate=0.05), decay=0.7)
    step = convnet.function([], loss, updates=updates, mode="py")
    ref_w, ref_avg = w0.copy(), w0.copy()
    for _ in range(6):
        step()
        ref_w = ref_w - 0.05 * A.T @ (A @ ref_w - b)
        ref_avg = 0.7 * ref_avg + 0.3 * ref_w
    average = get_averages(updates)[w]
    np.testing.assert_allclose(w.get_value(), ref_w, rtol=1e-12)
    np.testing.assert_allclose(average.get_value(), ref_avg, rtol=1e-12)
    assert average.name == "w.ema"
    assert average in get_optimizer_state(updates)
    averaged_loss = convnet.function([], with_averages(loss, updates), mode="py")()
    np.testing.assert_allclose(averaged_loss, 0.5 * ((A @ ref_avg - b) ** 2).sum(), rtol=1e-12)


def test_lookahead_over_momentum_matches_a_numpy_loop():
    import convnet
    from convnet.updates import get_optimizer_state, lookahead, momentum

    A, b, w0, w, loss = _quadratic(1)
    updates = lookahead(momentum(loss, [w], learning_rate=0.03, momentum=0.8), k=3, alpha=0.4)
    step = convnet.function([], loss, updates=updates, mode="py")
    ref_w, slow, velocity = w0.copy(), w0.copy(), np.zeros(3)
    for t in range(1, 8):
        step()
        velocity = 0.8 * velocity - 0.03 * A.T @ (A @ ref_w - b)
        fast = ref_w + velocity
        if t % 3 == 0:
            slow = slow + 0.4 * (fast - slow)
            ref_w = slow.copy()
        else:
            ref_w = fast
        np.testing.assert_allclose(w.get_value(), ref_w, rtol=1e-12, err_msg=f"step {t}")
    names = [v.name for v in get_optimizer_state(updates)]
    assert names == ["w.velocity", "lookahead.t", "w.slow"]


def test_lookahead_and_ema_keep_float32(floatX32):
    import pytensor
    import pytensor.tensor as T

    from convnet.updates import adam, apply_ema, lookahead

    w = pytensor.shared(np.ones(3, dtype="float32"), name="w")
    updates = apply_ema(lookahead(adam((w**2).sum(), [w]), k=2), decay=0.9)
    assert all(var.dtype == expr.dtype for var, expr in updates.items())
    assert {v.dtype for v in updates} == {"float32"}
    assert T.as_tensor_variable(updates[w]).dtype == "float32"


@pytest.mark.parametrize(
    "call, error, text",
    [
        (
            lambda u, w: __import__("convnet").updates.apply_ema(u, decay=1.0),
            ValueError,
            "apply_ema: decay must be in [0, 1), received 1.0",
        ),
        (
            lambda u, w: __import__("convnet").updates.lookahead(u, k=0),
            ValueError,
            "lookahead: k must be a positive integer, received 0",
        ),
        (
            lambda u, w: __import__("convnet").updates.lookahead(u, alpha=0.0),
            ValueError,
            "lookahead: alpha must be in (0, 1], received 0.0",
        ),
        (
            lambda u, w: __import__("convnet").updates.apply_ema([w]),
            TypeError,
            "apply_ema: updates must be a mapping",
        ),
        (
            lambda u, w: __import__("convnet").updates.with_averages(w * 2, u),
            ValueError,
            "with_averages: updates holds no moving averages",
        ),
    ],
)
def test_bad_wrapper_arguments(call, error, text):
    from convnet.updates import sgd

    _, _, _, w, loss = _quadratic()
    with pytest.raises(error) as exc:
        call(sgd(loss, [w], learning_rate=0.1), w)
    assert text in str(exc.value)
