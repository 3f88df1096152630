"""Tests for convnet.objectives: values vs NumPy, finite-difference gradients, errors."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.tensor.special import softmax

import convnet
from convnet import objectives as O

RNG = np.random.default_rng(1234)
N, K = 5, 4

# Inputs shared by every check below (float64).
P = RNG.uniform(0.05, 0.95, size=(N, K))  # probabilities, element-wise
Q = RNG.dirichlet(np.ones(K), size=N)  # rows sum to 1
Z = RNG.normal(scale=2.0, size=(N, K))  # logits
T_BIN = (RNG.random((N, K)) < 0.5).astype(np.float64)
T_SOFT = RNG.uniform(0, 1, size=(N, K))
T_IDX = RNG.integers(0, K, size=N).astype(np.int32)
T_ONEHOT = np.eye(K)[T_IDX]
T_PM = 2 * T_BIN - 1
Y = RNG.normal(size=(N, K))
W_AGG = RNG.uniform(0, 2, size=(N, K))


# ----------------------------------------------------------------------------------------
# NumPy references (loops where the formula has structure)
# ----------------------------------------------------------------------------------------


def np_bce(p, t):
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def np_bce_logits(z, t):
    return np.logaddexp(0, z) - t * z


def np_cce(p, t):
    out = np.empty(p.shape[0])
    for i in range(p.shape[0]):
        if t.ndim == 1:
            out[i] = -np.log(p[i, t[i]])
        else:
            out[i] = -sum(t[i, j] * np.log(p[i, j]) for j in range(p.shape[1]) if t[i, j] != 0)
    return out


def np_log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def np_multiclass_hinge(p, t, delta=1.0):
    out = np.empty(p.shape[0])
    for i in range(p.shape[0]):
        c = t[i] if t.ndim == 1 else int(np.argmax(t[i]))
        others = max(p[i, j] for j in range(p.shape[1]) if j != c)
        out[i] = max(0.0, others - p[i, c] + delta)
    return out


def np_huber(p, t, delta=1.0):
    out = np.empty_like(p)
    for idx, d in np.ndenumerate(p - t):
        out[idx] = 0.5 * d * d if abs(d) <= delta else delta * (abs(d) - 0.5 * delta)
    return out


def np_binary_hinge(p, t, delta=1.0, log_odds=True, binary=True):
    if not log_odds:
        p = np.log(p / (1 - p))
    if binary:
        t = 2 * t - 1
    return np.maximum(0, delta - p * t)


def np_top_k(p, t, k):
    out = np.empty(p.shape[0], dtype=np.int8)
    for i in range(p.shape[0]):
        top = np.argsort(p[i], kind="stable")[-k:]
        out[i] = int(t[i] in top)
    return out


# ----------------------------------------------------------------------------------------
# one compiled function for all differentiable losses (values and gradients)
# ----------------------------------------------------------------------------------------


# Inputs with static shapes (the values below are fixed); symbolic shapes are covered
# by the other tests and the doctests.
def _mat(name):
    return T.tensor(name=name, dtype="float64", shape=(N, K))


p, q, z, y, w = (_mat(n) for n in ("p", "q", "z", "y", "w"))
t_bin, t_soft, t_onehot, t_pm = (_mat(n) for n in ("t_bin", "t_soft", "t_onehot", "t_pm"))
t_idx = T.tensor(name="t_idx", dtype="int32", shape=(N,))
INPUTS = [p, q, z, y, w, t_bin, t_soft, t_onehot, t_pm, t_idx]
VALUES = [P, Q, Z, Y, W_AGG, T_BIN, T_SOFT, T_ONEHOT, T_PM, T_IDX]

# name -> (symbolic loss, the differentiable input, NumPy reference)
LOSSES = {
    "bce_prob": (O.binary_crossentropy(p, t_soft), p, np_bce(P, T_SOFT)),
    "bce_sigmoid": (
        O.binary_crossentropy(T.sigmoid(z), t_soft),
        z,
        np_bce_logits(Z, T_SOFT),
    ),
    "cce_idx": (O.categorical_crossentropy(q, t_idx), q, np_cce(Q, T_IDX)),
    "cce_onehot": (O.categorical_crossentropy(q, t_onehot), q, np_cce(Q, T_ONEHOT)),
    "cce_soft": (O.categorical_crossentropy(q, t_soft), q, -(T_SOFT * np.log(Q)).sum(axis=1)),
    "cce_softmax_idx": (
        O.categorical_crossentropy(softmax(z, axis=-1), t_idx),
        z,
        -np_log_softmax(Z)[np.arange(N), T_IDX],
    ),
    "cce_softmax_soft": (
        O.categorical_crossentropy(softmax(z, axis=1), t_soft),
        z,
        -(T_SOFT * np_log_softmax(Z)).sum(axis=1),
    ),
    "squared_error": (O.squared_error(z, y), z, (Z - Y) ** 2),
    "huber": (O.huber_loss(z, y), z, np_huber(Z, Y)),
    "huber_delta": (O.huber_loss(z, y, delta=0.7), z, np_huber(Z, Y, 0.7)),
    "hinge_logodds": (
        O.binary_hinge_loss(z, t_bin, log_odds=True),
        z,
        np_binary_hinge(Z, T_BIN),
    ),
    "hinge_prob_pm": (
        O.binary_hinge_loss(p, t_pm, delta=0.5, log_odds=False, binary=False),
        p,
        np_binary_hinge(P, T_PM, 0.5, log_odds=False, binary=False),
    ),
    "mc_hinge_idx": (O.multiclass_hinge_loss(z, t_idx), z, np_multiclass_hinge(Z, T_IDX)),
    "mc_hinge_onehot": (
        O.multiclass_hinge_loss(z, t_onehot, delta=2.0),
        z,
        np_multiclass_hinge(Z, T_ONEHOT, 2.0),
    ),
    "agg_mean": (O.aggregate(O.squared_error(z, y)), z, ((Z - Y) ** 2).mean()),
    "agg_sum_w": (
        O.aggregate(O.squared_error(z, y), w, mode="sum"),
        z,
        (W_AGG * (Z - Y) ** 2).sum(),
    ),
    "agg_mean_w": (
        O.aggregate(O.squared_error(z, y), w, mode="mean"),
        z,
        (W_AGG * (Z - Y) ** 2).mean(),
    ),
    "agg_norm_w": (
        O.aggregate(O.squared_error(z, y), w, mode="normalized_sum"),
        z,
        (W_AGG * (Z - Y) ** 2).sum() / W_AGG.sum(),
    ),
}
NAMES = list(LOSSES)


@pytest.fixture(scope="module")
def compiled():
    """Values and gradients (of the sum of each loss) of every loss, one function."""
    outputs = [LOSSES[n][0] for n in NAMES]
    grads = [pytensor.grad(T.sum(LOSSES[n][0]), LOSSES[n][1]) for n in NAMES]
    fn = convnet.function(INPUTS, outputs + grads)
    results = fn(*VALUES)
    values = dict(zip(NAMES, results[: len(NAMES)]))
    gradients = dict(zip(NAMES, results[len(NAMES) :]))
    return fn, values, gradients


@pytest.mark.parametrize("name", NAMES)
def test_value_vs_numpy(name, compiled):
    _, values, _ = compiled
    expected = LOSSES[name][2]
    assert values[name].shape == np.shape(expected)
    np.testing.assert_allclose(values[name], expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_vs_finite_differences(name, compiled):
    """Central differences of the compiled loss (float64) vs its symbolic gradient."""
    fn, _, gradients = compiled
    wrt = LOSSES[name][1]
    k = INPUTS.index(wrt)
    index = NAMES.index(name)
    h = 1e-6
    numeric = np.zeros_like(VALUES[k])
    for idx in np.ndindex(VALUES[k].shape):
        vals = [v.copy() for v in VALUES]
        vals[k][idx] += h
        plus = np.sum(fn(*vals)[index])
        vals[k][idx] -= 2 * h
        minus = np.sum(fn(*vals)[index])
        numeric[idx] = (plus - minus) / (2 * h)
    assert np.abs(gradients[name]).max() > 1e-3  # not trivially zero
    np.testing.assert_allclose(gradients[name], numeric, rtol=1e-5, atol=1e-7)


def test_kinks_are_away_from_the_test_points():
    """Finite differences are only valid away from the hinges' and Huber's kinks."""
    assert np.abs(np.abs(Z - Y) - 1.0).min() > 1e-4
    assert np.abs(np.abs(Z - Y) - 0.7).min() > 1e-4
    assert np.abs(1 - Z * T_PM).min() > 1e-4


# ----------------------------------------------------------------------------------------
# stability, shapes, dtypes
# ----------------------------------------------------------------------------------------


def test_saturated_sigmoid_and_softmax_stay_finite():
    zz = T.dmatrix("zz")
    tt = T.dmatrix("tt")
    ti = T.ivector("ti")
    bce = O.binary_crossentropy(T.sigmoid(zz), tt)
    cce = O.categorical_crossentropy(softmax(zz, axis=-1), ti)
    fn = convnet.function(
        [zz, tt, ti], [bce, cce, pytensor.grad(bce.sum(), zz), pytensor.grad(cce.sum(), zz)]
    )
    z_val = np.array([[800.0, -800.0, 40.0], [-40.0, 0.0, 1000.0]])
    t_val = np.array([[0.0, 1.0, 0.0], [1.0, 0.5, 1.0]])
    t_idx = np.array([1, 0], dtype=np.int32)
    b, c, gb, gc = fn(z_val, t_val, t_idx)
    np.testing.assert_allclose(b, np_bce_logits(z_val, t_val), rtol=1e-12)
    np.testing.assert_allclose(c, -np_log_softmax(z_val)[[0, 1], t_idx], rtol=1e-12)
    sig = 0.5 * (1 + np.tanh(z_val / 2))
    np.testing.assert_allclose(gb, sig - t_val, atol=1e-12)
    expected_gc = np.exp(np_log_softmax(z_val))
    expected_gc[[0, 1], t_idx] -= 1
    np.testing.assert_allclose(gc, expected_gc, atol=1e-12)


def test_zero_probabilities_off_target_give_finite_values_and_gradients():
    pp = T.dmatrix("pp")
    ti = T.ivector("ti")
    to = T.dmatrix("to")
    losses = [O.categorical_crossentropy(pp, ti), O.categorical_crossentropy(pp, to)]
    grads = [pytensor.grad(loss.sum(), pp) for loss in losses]
    fn = convnet.function([pp, ti, to], losses + grads)
    p_val = np.array([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75]])
    idx = np.array([0, 2], dtype=np.int32)
    a, b, ga, gb = fn(p_val, idx, np.eye(3)[idx])
    np.testing.assert_allclose(a, [np.log(2), -np.log(0.75)], rtol=1e-12)
    np.testing.assert_allclose(b, a, rtol=1e-12)
    expected = np.zeros((2, 3))
    expected[0, 0], expected[1, 2] = -2.0, -1 / 0.75
    np.testing.assert_allclose(ga, expected, rtol=1e-12)
    np.testing.assert_allclose(gb, expected, rtol=1e-12)


def test_column_predictions_align_with_target_vectors():
    col = T.TensorType("float64", shape=(None, 1))("col")
    vec = T.dvector("vec")
    for loss in (O.squared_error, O.binary_crossentropy, O.huber_loss, O.binary_accuracy):
        out = loss(col, vec)
        assert out.ndim == 2 and out.type.shape[1] == 1, loss.__name__
    out = O.binary_hinge_loss(col, vec, log_odds=True)
    assert out.type.shape[1] == 1


def test_categorical_losses_with_leading_dimensions():
    """Classes are on the last axis; index targets may have several leading dims."""
    p3 = T.tensor3("p3")
    t2 = T.imatrix("t2")
    fn = convnet.function(
        [p3, t2],
        [
            O.categorical_crossentropy(p3, t2),
            O.multiclass_hinge_loss(p3, t2),
            O.categorical_accuracy(p3, t2, top_k=2),
        ],
    )
    pv = RNG.dirichlet(np.ones(K), size=(2, 3))
    tv = RNG.integers(0, K, size=(2, 3)).astype(np.int32)
    cce, mch, acc = fn(pv, tv)
    flat_p, flat_t = pv.reshape(-1, K), tv.ravel()
    np.testing.assert_allclose(cce, np_cce(flat_p, flat_t).reshape(2, 3), rtol=1e-12)
    np.testing.assert_allclose(mch, np_multiclass_hinge(flat_p, flat_t).reshape(2, 3))
    np.testing.assert_array_equal(acc, np_top_k(flat_p, flat_t, 2).reshape(2, 3))


def test_float32_stays_float32():
    pf, zf = T.fmatrix("pf"), T.fmatrix("zf")
    tf, ti = T.fmatrix("tf"), T.ivector("ti")
    outs = [
        O.binary_crossentropy(pf, tf),
        O.binary_crossentropy(T.sigmoid(zf), tf),
        O.categorical_crossentropy(pf, ti),
        O.categorical_crossentropy(softmax(zf, axis=-1), tf),
        O.squared_error(pf, tf),
        O.huber_loss(pf, tf),
        O.binary_hinge_loss(zf, tf, log_odds=True),
        O.multiclass_hinge_loss(pf, ti),
        O.aggregate(O.squared_error(pf, tf), tf, mode="normalized_sum"),
    ]
    for out in outs:
        assert out.dtype == "float32"


def test_accuracies_vs_numpy():
    pp, tt = T.dmatrix("pp"), T.dmatrix("tt")
    ti, to = T.ivector("ti"), T.dmatrix("to")
    fn = convnet.function(
        [pp, tt, ti, to],
        [
            O.binary_accuracy(pp, tt),
            O.binary_accuracy(pp, tt, threshold=0.3),
            O.categorical_accuracy(pp, ti),
            O.categorical_accuracy(pp, to),
            O.categorical_accuracy(pp, ti, top_k=2),
            O.categorical_accuracy(pp, to, top_k=3),
        ],
    )
    t_acc = T_IDX.copy()
    t_acc[:2] = P[:2].argmax(axis=1)  # some hits for top-1
    t_acc[2] = np.argsort(P[2])[-2]  # a hit for top-2 only
    out = fn(P, T_BIN, t_acc, np.eye(K)[t_acc])
    np.testing.assert_array_equal(out[0], ((P >= 0.5) == T_BIN).astype(np.int8))
    np.testing.assert_array_equal(out[1], ((P >= 0.3) == T_BIN).astype(np.int8))
    argmax = np.array([int(np.argmax(row)) for row in P])
    np.testing.assert_array_equal(out[2], (argmax == t_acc).astype(np.int8))
    np.testing.assert_array_equal(out[3], out[2])
    np.testing.assert_array_equal(out[4], np_top_k(P, t_acc, 2))
    np.testing.assert_array_equal(out[5], np_top_k(P, t_acc, 3))
    assert all(o.dtype == np.int8 for o in out)
    assert 0 < out[2].sum() < out[4].sum() <= out[5].sum() <= N  # top-k counts more


# ----------------------------------------------------------------------------------------
# bad arguments
# ----------------------------------------------------------------------------------------


def test_aggregate_errors():
    loss = T.dvector("loss")
    with pytest.raises(
        ValueError,
        match=r"aggregate: mode: expected one of 'mean', 'sum', 'normalized_sum', received 'avg'",
    ):
        O.aggregate(loss, mode="avg")
    with pytest.raises(ValueError, match=r"aggregate: mode='normalized_sum' requires weights"):
        O.aggregate(loss, mode="normalized_sum")
    with pytest.raises(
        ValueError, match=r"aggregate: weights with shape \(\?, \?\) have more dimensions"
    ):
        O.aggregate(loss, T.dmatrix("w"))
    with pytest.raises(
        ValueError,
        match=r"aggregate: loss with shape \(3,\) and weights with shape \(4,\) do not broadcast",
    ):
        O.aggregate(np.ones(3), np.ones(4))


def test_shape_mismatch_errors():
    with pytest.raises(
        ValueError,
        match=r"squared_error: a with shape \(3, 4\) and b with shape \(3, 5\) do not "
        r"broadcast against each other",
    ):
        O.squared_error(np.ones((3, 4)), np.ones((3, 5)))
    with pytest.raises(
        ValueError, match=r"binary_crossentropy: predictions with shape \(2,\) and targets"
    ):
        O.binary_crossentropy(np.full(2, 0.5), np.ones(3))
    with pytest.raises(
        TypeError,
        match=r"categorical_crossentropy: rank mismatch between "
        r"targets and predictions: expected targets with 1 dimensions .* or 2 "
        r"dimensions .* received targets of shape \(\?, \?, \?\)",
    ):
        O.categorical_crossentropy(T.dmatrix(), T.itensor3())
    with pytest.raises(
        TypeError,
        match=r"categorical_crossentropy: targets with one dimension fewer than "
        r"predictions must be integer class indices, received dtype float64",
    ):
        O.categorical_crossentropy(T.dmatrix(), T.dvector())
    with pytest.raises(TypeError, match=r"multiclass_hinge_loss: rank mismatch"):
        O.multiclass_hinge_loss(T.dmatrix(), T.dtensor3())
    with pytest.raises(TypeError, match=r"categorical_accuracy: rank mismatch"):
        O.categorical_accuracy(T.dmatrix(), T.iscalar())
    with pytest.raises(
        ValueError,
        match=r"categorical_crossentropy: predictions with shape \(3, 4\) \(classes last\) "
        r"and integer targets with shape \(2,\) disagree; expected targets of shape \(3,\)",
    ):
        O.categorical_crossentropy(np.full((3, 4), 0.25), np.zeros(2, dtype=np.int32))
    with pytest.raises(TypeError, match=r"squared_error: expected a to be a PyTensor tensor"):
        O.squared_error(object(), np.ones(2))


def test_bad_scalar_arguments():
    with pytest.raises(
        ValueError,
        match=r"categorical_accuracy: top_k must be a positive "
        r"integer, received 0",
    ):
        O.categorical_accuracy(T.dmatrix(), T.ivector(), top_k=0)
    with pytest.raises(ValueError, match=r"top_k must be a positive integer, received 1.5"):
        O.categorical_accuracy(T.dmatrix(), T.ivector(), top_k=1.5)


def test_binary_hinge_log_odds_none_warns_and_assumes_true():
    zz, tt = T.dvector(), T.dvector()
    with pytest.warns(FutureWarning, match=r"binary_hinge_loss: log_odds=None assumes"):
        out = O.binary_hinge_loss(zz, tt)
    explicit = O.binary_hinge_loss(zz, tt, log_odds=True)
    fn = convnet.function([zz, tt], [out, explicit])
    a, b = fn(np.array([0.3, -2.0]), np.array([1.0, 0.0]))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, [0.7, 0.0])


def test_signatures_match_lasagne():
    import inspect

    expected = {
        "binary_crossentropy": ["predictions", "targets"],
        # label_smoothing: a keyword after Lasagne's arguments (default 0: Lasagne's loss)
        "categorical_crossentropy": ["predictions", "targets", "label_smoothing"],
        "squared_error": ["a", "b"],
        "binary_hinge_loss": ["predictions", "targets", "delta", "log_odds", "binary"],
        "multiclass_hinge_loss": ["predictions", "targets", "delta"],
        "huber_loss": ["predictions", "targets", "delta"],
        "aggregate": ["loss", "weights", "mode"],
        "binary_accuracy": ["predictions", "targets", "threshold"],
        "categorical_accuracy": ["predictions", "targets", "top_k"],
    }
    for name, args in expected.items():
        assert list(inspect.signature(getattr(O, name)).parameters) == args, name
    sig = inspect.signature(O.binary_hinge_loss).parameters
    assert (sig["delta"].default, sig["log_odds"].default, sig["binary"].default) == (
        1,
        None,
        True,
    )
    assert inspect.signature(O.aggregate).parameters["mode"].default == "mean"
    assert inspect.signature(O.categorical_accuracy).parameters["top_k"].default == 1
    assert inspect.signature(O.binary_accuracy).parameters["threshold"].default == 0.5
    assert sorted(O.__all__) == sorted(expected)


# --------------------------------------------------------------------------------------------
# label smoothing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [0.1, 0.35])
@pytest.mark.parametrize("target_kind", ["index", "probabilities"])
def test_label_smoothing_matches_torch(eps, target_kind):
    import pytensor.tensor as T

    import convnet
    from convnet.nonlinearities import softmax

    torch = pytest.importorskip("torch")
    from convnet.objectives import categorical_crossentropy

    rng = np.random.default_rng(3)
    logits = rng.standard_normal((6, 5))
    if target_kind == "index":
        t_np = rng.integers(0, 5, 6).astype("int32")
        t_var = T.ivector("t")
        t_torch = torch.from_numpy(t_np.astype("int64"))
    else:
        t_np = rng.dirichlet(np.ones(5), size=6)
        t_var = T.dmatrix("t")
        t_torch = torch.from_numpy(t_np)
    z = T.dmatrix("z")
    loss = categorical_crossentropy(softmax(z), t_var, label_smoothing=eps)
    got = convnet.function([z, t_var], loss, mode="py")(logits, t_np)
    want = torch.nn.functional.cross_entropy(
        torch.from_numpy(logits), t_torch, label_smoothing=eps, reduction="none"
    ).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_label_smoothing_on_probabilities_matches_numpy_and_has_right_gradient():
    import pytensor.tensor as T
    from pytensor.gradient import verify_grad

    import convnet
    from convnet.objectives import categorical_crossentropy

    rng = np.random.default_rng(4)
    p = rng.dirichlet(np.ones(4), size=3)
    t = np.array([0, 3, 1], dtype="int32")
    pv = T.dmatrix("p")
    got = convnet.function([pv], categorical_crossentropy(pv, t, label_smoothing=0.2))(p)
    smoothed = 0.8 * np.eye(4)[t] + 0.2 / 4
    np.testing.assert_allclose(got, -(smoothed * np.log(p)).sum(axis=1), rtol=1e-12)
    verify_grad(
        lambda q: categorical_crossentropy(q, t, label_smoothing=0.2).sum(),
        [p],
        rng=np.random.RandomState(0),
        mode="FAST_COMPILE",
    )


def test_label_smoothing_keeps_float32_and_zero_is_lasagnes_loss(floatX32):
    import pytensor.tensor as T

    from convnet.nonlinearities import softmax
    from convnet.objectives import categorical_crossentropy

    z, t = T.fmatrix("z"), T.ivector("t")
    assert categorical_crossentropy(softmax(z), t, label_smoothing=0.1).dtype == "float32"
    plain = categorical_crossentropy(softmax(z), t)
    zero = categorical_crossentropy(softmax(z), t, label_smoothing=0.0)
    assert plain.dtype == zero.dtype == "float32"


@pytest.mark.parametrize(
    "value, error, text",
    [
        (1.0, ValueError, "label_smoothing must be in [0, 1), received 1.0"),
        (-0.1, ValueError, "label_smoothing must be in [0, 1), received -0.1"),
        ("0.1", TypeError, "label_smoothing must be a number in [0, 1), received str"),
    ],
)
def test_bad_label_smoothing(value, error, text):
    import pytensor.tensor as T

    from convnet.objectives import categorical_crossentropy

    with pytest.raises(error) as exc:
        categorical_crossentropy(T.dmatrix("p"), T.ivector("t"), label_smoothing=value)
    assert text in str(exc.value)


def _op_names(fn):
    return {type(node.op).__name__ for node in fn.maker.fgraph.apply_nodes}


@pytest.mark.parametrize("n_classes", [4, None])
def test_class_index_targets_use_constant_positions_when_the_class_count_is_known(n_classes):
    # A known number of classes gives a constant 0..n-1 row: no cumulative sum and no array
    # of ones in the compiled graph (under numba they cost seconds of a cold compile).
    # An unknown count still works, through the cumulative sum.
    z = T.matrix("z", shape=(None, n_classes), dtype="float64")
    t = T.ivector("t")
    p = softmax(z, axis=-1)
    losses = [O.categorical_crossentropy(p, t), O.categorical_accuracy(p, t)]
    fn = pytensor.function([z, t], losses, mode="FAST_RUN")
    ops = _op_names(fn)
    if n_classes is None:
        assert "CumOp" in ops
    else:
        assert "CumOp" not in ops and "Alloc" not in ops
    rng = np.random.default_rng(0)
    zv, tv = rng.normal(size=(5, 4)), np.array([0, 3, 1, 2, 3], dtype="int32")
    loss, acc = fn(zv, tv)
    log_p = zv - zv.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    np.testing.assert_allclose(loss, -log_p[np.arange(5), tv], rtol=1e-12)
    np.testing.assert_array_equal(acc, (zv.argmax(1) == tv).astype(acc.dtype))
