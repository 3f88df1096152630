"""Tests of convnet.interpret: input gradients (saliency, guided backpropagation, deconvnet),
adversarial and fooling images, and their figures."""

import sys

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from PIL import Image

import convnet
from convnet import interpret
from convnet.layers import (
    Conv2DLayer,
    DenseLayer,
    ElemwiseSumLayer,
    FlattenLayer,
    InputLayer,
    MaxPool2DLayer,
    NonlinearityLayer,
    get_all_params,
    get_output,
)
from convnet.nonlinearities import LeakyRectify, rectify, softmax, tanh
from convnet.objectives import categorical_crossentropy
from convnet.updates import momentum

# The synthetic task: 8x8 grey images of noise in [0, 0.5]; a bright 2x2 patch in region A
# (rows 1-2, cols 1-2) makes class 0, in region B (rows 5-6, cols 5-6) class 1. Only the
# pixels of A and B decide the class.
REGIONS = ((1, 1), (5, 5))
DECIDING = np.zeros((8, 8), dtype=bool)
for _r, _c in REGIONS:
    DECIDING[_r : _r + 2, _c : _c + 2] = True


def patch_images(n, rng):
    X = rng.uniform(0.0, 0.5, size=(n, 1, 8, 8))
    y = rng.integers(0, 2, size=n)
    for k, (r, c) in enumerate(REGIONS):
        sel = y == k
        X[sel, 0, r : r + 2, c : c + 2] = rng.uniform(0.6, 1.0, size=(sel.sum(), 2, 2))
    return X, y


_PREDICTORS = {}


def predict(net, images):
    """Independent of convnet.interpret: the network's output, compiled once per network."""
    if net not in _PREDICTORS:
        x = T.tensor4("x", dtype="float64")
        _PREDICTORS[net] = convnet.function([x], get_output(net, x, deterministic=True))
    return _PREDICTORS[net](images)


def train_tiny_cnn():
    """A tiny CNN trained by SGD with momentum on the patch task (float64)."""
    rng = np.random.default_rng(0)
    with pytensor.config.change_flags(floatX="float64"):
        l_in = InputLayer((None, 1, 8, 8), name="input")
        conv = Conv2DLayer(
            l_in,
            4,
            3,
            pad="same",
            W=rng.normal(0, 0.3, (4, 1, 3, 3)),
            b=np.full(4, 0.1),
            name="conv",
        )
        pool = MaxPool2DLayer(conv, 2, name="pool")
        hidden = DenseLayer(
            pool, 16, W=rng.normal(0, 0.15, (64, 16)), b=np.full(16, 0.1), name="hidden"
        )
        net = DenseLayer(
            hidden, 2, W=rng.normal(0, 0.25, (16, 2)), nonlinearity=softmax, name="output"
        )
    params = get_all_params(net, trainable=True)
    y = T.lvector("y")
    loss = categorical_crossentropy(get_output(net), y).mean()
    updates = momentum(loss, params, learning_rate=0.05, momentum=0.9)
    train = convnet.function([l_in.input_var, y], loss, updates=updates)
    X, Y = patch_images(200 * 32, rng)
    for i in range(0, len(X), 32):
        train(X[i : i + 32], Y[i : i + 32])
    X_test, y_test = patch_images(64, rng)
    return {"net": net, "conv": conv, "X": X_test, "y": y_test}


@pytest.fixture(scope="module")
def trained():
    result = train_tiny_cnn()
    result["classifier"] = interpret.Classifier(result["net"])
    result["log_prob_gradient"] = interpret.InputGradient(result["net"], score="log_prob")
    return result


def test_tiny_network_learned_the_task(trained):
    probs = predict(trained["net"], trained["X"])
    assert (probs.argmax(axis=1) == trained["y"]).mean() >= 0.95


# --------------------------------------------------------------------------------------
# input gradients
# --------------------------------------------------------------------------------------


def test_saliency_concentrates_on_the_deciding_pixels(trained):
    sal = interpret.saliency_map(trained["net"], trained["X"])
    assert sal.shape == (64, 8, 8)
    assert (sal >= 0).all()
    fraction = (sal * DECIDING).sum(axis=(1, 2)) / sal.sum(axis=(1, 2))
    uniform = DECIDING.mean()  # 8 of 64 pixels
    assert fraction.mean() > 3 * uniform
    assert np.median(fraction) > 0.4


def test_guided_backprop_concentrates_on_the_deciding_pixels(trained):
    gb = interpret.guided_backprop(trained["net"], trained["X"])
    assert gb.shape == trained["X"].shape
    mass = np.abs(gb[:, 0])
    fraction = (mass * DECIDING).sum(axis=(1, 2)) / mass.sum(axis=(1, 2))
    # guided backpropagation also reconstructs image structure the class does not depend on
    # (Adebayo et al. 2018), so it is less concentrated than the saliency map
    assert fraction.mean() > 2 * DECIDING.mean()


def _float64_net(nonlinearity):
    rng = np.random.default_rng(3)
    with pytensor.config.change_flags(floatX="float64"):
        l_in = InputLayer((None, 2, 3, 3))
        conv = Conv2DLayer(l_in, 2, 2, W=rng.normal(size=(2, 2, 2, 2)), nonlinearity=nonlinearity)
        W, b = rng.normal(size=(8, 3)), rng.normal(size=3)
        net = DenseLayer(conv, 3, W=W, b=b, nonlinearity=softmax)
        logits = DenseLayer(conv, 3, W=net.W, b=net.b, nonlinearity=None)
    return net, logits


@pytest.mark.parametrize("score", ["logit", "log_prob"])
def test_input_gradient_equals_finite_differences_float64(score):
    net, logit_layer = _float64_net(tanh)
    x0 = np.random.default_rng(4).normal(size=(1, 2, 3, 3))
    target = 2
    eps = 1e-6
    # all central-difference probes in one batch: x0 + eps e_i, x0 - eps e_i
    basis = np.eye(x0.size).reshape((x0.size,) + x0.shape[1:])
    probes = np.concatenate([x0 + eps * basis, x0 - eps * basis])
    if score == "logit":
        values = predict(logit_layer, probes)[:, target]
    else:
        values = np.log(predict(net, probes)[:, target])
    numeric = ((values[: x0.size] - values[x0.size :]) / (2 * eps)).reshape(x0.shape)
    fn = interpret.InputGradient(net, score=score, mode="py")  # also covers a non-JAX backend
    grad = fn(x0, target=target)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    if score == "logit":
        np.testing.assert_allclose(
            interpret.saliency_map(net, x0, target=target, mode="py"), np.abs(numeric).max(axis=1)
        )


def _rule(g, z, leakiness, method):
    slope = np.where(z > 0, 1.0, leakiness)
    if method == "gradient":
        return g * slope
    if method == "guided":
        return np.maximum(g, 0) * slope
    return np.where(g > 0, g, leakiness * g)


def _reference_backward(params, x, target, method):
    """Loop-based NumPy forward and modified backward pass of the branched test network."""
    W1, b1, Wa, ba, Wb, bb, Wo, bo = params
    n = x.shape[0]
    k = W1.shape[-1]
    Wf = W1[:, :, ::-1, ::-1]  # Conv2DLayer flips its filters (a true convolution)
    out = x.shape[-1] - k + 1
    z1 = np.zeros((n, W1.shape[0], out, out))
    for o in range(W1.shape[0]):
        for i in range(out):
            for j in range(out):
                z1[:, o, i, j] = (x[:, :, i : i + k, j : j + k] * Wf[o]).sum(axis=(1, 2, 3))
    z1 += b1[None, :, None, None]
    f = np.maximum(z1, 0).reshape(n, -1)
    za, zb = f @ Wa + ba, f @ Wb + bb
    m = np.maximum(za, 0) + np.where(zb > 0, zb, 0.2 * zb)
    logits = m @ Wo + bo
    t = logits.argmax(axis=1) if target is None else np.full(n, target)
    g_m = Wo[:, t].T
    g_f = _rule(g_m, za, 0.0, method) @ Wa.T + _rule(g_m, zb, 0.2, method) @ Wb.T
    g_z1 = _rule(g_f.reshape(z1.shape), z1, 0.0, method)
    g_x = np.zeros_like(x)
    for o in range(W1.shape[0]):
        for i in range(out):
            for j in range(out):
                g_x[:, :, i : i + k, j : j + k] += g_z1[:, o, i, j][:, None, None, None] * Wf[o]
    return g_x, t


@pytest.fixture(scope="module")
def branched():
    """Conv (rectify) -> two dense branches (rectify; leaky 0.2) -> sum -> dense softmax."""
    rng = np.random.default_rng(5)
    params = [
        rng.normal(size=(3, 2, 3, 3)),
        rng.normal(size=3) * 0.5,
        rng.normal(size=(27, 4)),
        rng.normal(size=4),
        rng.normal(size=(27, 4)),
        rng.normal(size=4),
        rng.normal(size=(4, 3)),
        rng.normal(size=3),
    ]
    W1, b1, Wa, ba, Wb, bb, Wo, bo = params
    with pytensor.config.change_flags(floatX="float64"):
        l_in = InputLayer((None, 2, 5, 5))
        conv = Conv2DLayer(l_in, 3, 3, W=W1, b=b1, nonlinearity=rectify)
        flat = FlattenLayer(conv)
        a = DenseLayer(flat, 4, W=Wa, b=ba, nonlinearity=rectify)
        b = NonlinearityLayer(DenseLayer(flat, 4, W=Wb, b=bb, nonlinearity=None), LeakyRectify(0.2))
        net = DenseLayer(ElemwiseSumLayer([a, b]), 3, W=Wo, b=bo, nonlinearity=softmax)
    x = rng.normal(size=(6, 2, 5, 5))
    return net, params, x, (conv, a, b)


@pytest.mark.parametrize("method", ["gradient", "guided", "deconvnet"])
def test_modified_backward_passes_match_numpy_reference(branched, method):
    net, params, x, rectifying = branched
    fn = interpret.InputGradient(net, method=method)
    assert fn.num_rectifiers == (0 if method == "gradient" else 3)
    grads, chosen = fn.explain(x)
    expected, t = _reference_backward(params, x, None, method)
    np.testing.assert_array_equal(chosen, t)
    np.testing.assert_allclose(grads, expected, rtol=1e-10, atol=1e-12)
    expected1, _ = _reference_backward(params, x, 1, method)
    np.testing.assert_allclose(fn(x, target=1), expected1, rtol=1e-10, atol=1e-12)
    if method != "gradient":  # the test network is one where the rules make a difference
        plain, _ = _reference_backward(params, x, 1, "gradient")
        assert not np.allclose(plain, expected1)
    # the network's own layers are left as they were
    assert [layer.nonlinearity for layer in rectifying][:2] == [rectify, rectify]
    assert isinstance(rectifying[2].nonlinearity, LeakyRectify)


def test_guided_without_rectifiers_warns():
    net, _ = _float64_net(tanh)
    with pytest.warns(UserWarning, match="no rectifier"):
        interpret.InputGradient(net, method="guided", mode="py")


def test_input_gradient_errors(branched):
    net, _, x, (conv, _, _) = branched
    with pytest.raises(ValueError, match="method: expected one of 'gradient', 'guided', "):
        interpret.InputGradient(net, method="smooth")
    with pytest.raises(ValueError, match="score: expected one of 'logit', 'log_prob', "):
        interpret.InputGradient(net, score="prob")
    fn = interpret.InputGradient(net)
    with pytest.raises(
        ValueError,
        match=r"expected an array of shape \(None, 2, 5, 5\).*"
        r"received shape \(2, 5, 5\); for a single image pass images\[None\]",
    ):
        fn(x[0])
    with pytest.raises(ValueError, match=r"target: expected class indices in \[0, 3\), received 3"):
        fn(x, target=3)
    with pytest.raises(ValueError, match=r"target: expected one class per image \(6\), received 2"):
        fn(x, target=[0, 1])
    with pytest.raises(TypeError, match="layer: expected a convnet Layer"):
        interpret.InputGradient("net")
    two_inputs = ElemwiseSumLayer([InputLayer((None, 3)), InputLayer((None, 3))])
    with pytest.raises(ValueError, match="exactly one InputLayer, received one with 2"):
        interpret.saliency_map(two_inputs, np.zeros((1, 3)))
    with pytest.raises(
        ValueError,
        match=r"class scores of shape \(batch, classes\), received "
        r"Conv2DLayer with output shape \(None, 3, 3, 3\)",
    ):
        interpret.InputGradient(conv)


# --------------------------------------------------------------------------------------
# adversarial and fooling images
# --------------------------------------------------------------------------------------


def _check_result_arrays(r, net, clip):
    """Norms, labels and confidences reported must match the arrays."""
    d = r.adversarial - r.original
    np.testing.assert_allclose(r.l2, np.sqrt((d.reshape(len(d), -1) ** 2).sum(axis=1)))
    np.testing.assert_allclose(r.linf, np.abs(d).reshape(len(d), -1).max(axis=1))
    assert r.adversarial.min() >= clip[0] and r.adversarial.max() <= clip[1]
    before, after = predict(net, r.original), predict(net, r.adversarial)
    np.testing.assert_array_equal(r.original_label, before.argmax(axis=1))
    np.testing.assert_array_equal(r.label, after.argmax(axis=1))
    np.testing.assert_allclose(r.confidence, after.max(axis=1), rtol=1e-10)
    np.testing.assert_allclose(r.original_confidence, before.max(axis=1), rtol=1e-10)
    if r.target is not None:
        np.testing.assert_allclose(r.target_confidence, after[np.arange(len(d)), r.target])


def test_fgsm_flips_labels_with_the_sign_of_the_loss_gradient(trained):
    net, X, y = trained["net"], trained["X"], trained["y"]
    eps = 0.3
    r = interpret.fgsm(trained["classifier"], X, labels=y, epsilon=eps)
    assert r.method == "fgsm"
    _check_result_arrays(r, net, (0.0, 1.0))
    assert r.linf.max() <= eps + 1e-12
    # independently: the loss gradient is minus the gradient of log p(label)
    g = trained["log_prob_gradient"](X, target=y)
    np.testing.assert_allclose(r.adversarial, np.clip(X - eps * np.sign(g), 0, 1))
    np.testing.assert_array_equal(r.success, r.label != y)
    assert r.success.mean() > 0.5
    assert r.target is None and r.target_confidence is None


def test_targeted_fgsm_moves_towards_the_target(trained):
    net, X = trained["net"], trained["X"]
    r = interpret.fgsm(trained["classifier"], X, epsilon=0.3, target=0, clip=(0.0, 1.0))
    g = trained["log_prob_gradient"](X, target=0)
    np.testing.assert_allclose(r.adversarial, np.clip(X + 0.3 * np.sign(g), 0, 1))
    assert (r.target_confidence >= predict(net, X)[:, 0] - 1e-12).all()
    np.testing.assert_array_equal(r.success, r.label == 0)


def test_targeted_attack_finds_small_label_flipping_perturbations(trained):
    net, X = trained["net"], trained["X"]
    target = 1 - predict(net, X).argmax(axis=1)
    r = interpret.targeted_attack(trained["classifier"], X, target, search_steps=5, max_iter=50)
    assert r.method == "targeted"
    _check_result_arrays(r, net, (0.0, 1.0))
    assert r.success.all()
    np.testing.assert_array_equal(r.label, target)
    # small: half the perturbation no longer reaches the target, and FGSM needs more L2
    half = predict(net, X + 0.5 * r.perturbation).argmax(axis=1)
    assert (half != target).all()
    fg = interpret.fgsm(trained["classifier"], X, epsilon=0.3, target=target)
    assert (r.l2[fg.success] < fg.l2[fg.success]).all()


def test_fooling_images_reach_the_requested_confidence(trained):
    net = trained["net"]
    r = interpret.fooling_images(trained["classifier"], target=[0, 1], confidence=0.999, seed=1)
    assert r.method == "fooling"
    _check_result_arrays(r, net, (0.0, 1.0))
    assert r.success.all()
    np.testing.assert_array_equal(r.label, [0, 1])
    assert (r.target_confidence >= 0.999).all()
    # from real images of the other class
    X, y = trained["X"], trained["y"]
    start = np.concatenate([X[y == 1][:1], X[y == 0][:1]])
    r2 = interpret.fooling_images(trained["classifier"], [0, 1], start=start, confidence=0.99)
    assert (r2.original_confidence > 0.9).all() and (r2.original_label == [1, 0]).all()
    assert r2.success.all() and (r2.label == [0, 1]).all()


def test_attack_errors(trained):
    net, X = trained["classifier"], trained["X"][:2]
    with pytest.raises(
        ValueError,
        match=r"images: expected values within clip=\(0, 0\.5\), "
        r"received values in \[0\.0\d*, 0\.9\d*\]",
    ):
        interpret.fgsm(net, X, clip=(0, 0.5))
    with pytest.raises(ValueError, match=r"clip: expected lo < hi, received \(1, 0\)"):
        interpret.fgsm(net, X, clip=(1, 0))
    with pytest.raises(ValueError, match="epsilon: expected a positive number, received -0.1"):
        interpret.fgsm(net, X, epsilon=-0.1)
    with pytest.raises(
        TypeError, match="target: expected an int or a sequence of ints, received None"
    ):
        interpret.targeted_attack(net, X, None)
    with pytest.raises(
        ValueError,
        match=r"confidence: expected a number in \(0, 1\), "
        r"received 1\.0",
    ):
        interpret.fooling_images(net, 0, confidence=1.0)
    with pytest.raises(
        ValueError,
        match=r"^fgsm: expected a network whose output layer gives "
        r"class scores of shape \(batch, classes\), received Conv2DLayer 'conv'",
    ):
        interpret.fgsm(trained["conv"], X)


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------


def test_plot_attack_and_saliency_write_pngs(trained, tmp_path):
    X = trained["X"]
    r = interpret.fgsm(trained["classifier"], X, epsilon=0.3)
    path = tmp_path / "attack.png"
    fig = interpret.plot_attack(r, 1, path, class_names=["A", "B"])
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == (
            round(fig.get_figwidth() * fig.dpi),
            round(fig.get_figheight() * fig.dpi),
        )
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith(f"original: {['A', 'B'][r.original_label[1]]!r}")
    assert f"L2 {r.l2[1]:.3g}" in titles[1]
    fool = interpret.fooling_images(trained["classifier"], target=[0, 1], steps=3)
    fig = interpret.plot_attack(fool, path=tmp_path / "fooling.png")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("start: ") and titles[2].startswith("fooling: ")
    assert (tmp_path / "fooling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    grad = trained["log_prob_gradient"](X)
    path2 = tmp_path / "saliency.png"
    maps = {"saliency": np.abs(grad[:3]).max(axis=1), "signed": grad[:3]}
    fig = interpret.plot_saliency(X[:3], maps, path2, titles=["a", "b", "c"])
    assert [ax.get_title() for ax in fig.axes][:3] == ["a", "saliency", "signed"]
    with Image.open(path2) as im:
        assert im.format == "PNG" and im.size[0] > 200 and im.size[1] > 3 * 100
    with pytest.raises(ValueError, match=r"maps\['s'\]: expected one map per image"):
        interpret.plot_saliency(X, {"s": grad[:2]})


def test_missing_matplotlib_names_the_interpret_function(monkeypatch):
    # The figures are convnet.interpret's own, not convnet.visualize's (as the message said
    # when interpret borrowed visualize's figure code).
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    images = np.zeros((1, 1, 2, 2))
    with pytest.raises(ImportError, match=r"^convnet\.interpret\.plot_saliency needs matplotlib"):
        interpret.plot_saliency(images, images[:, 0])


def test_float32_networks_give_float32_results(floatX32):
    rng = np.random.default_rng(6)
    l_in = InputLayer((None, 1, 4, 4))
    conv = Conv2DLayer(l_in, 2, 3, W=rng.normal(size=(2, 1, 3, 3)).astype("float32"))
    net = DenseLayer(conv, 3, W=rng.normal(size=(8, 3)).astype("float32"), nonlinearity=softmax)
    x = rng.uniform(size=(2, 1, 4, 4))  # float64 images are cast to the input's float32
    grads = interpret.InputGradient(net, method="guided", mode="py")(x)
    assert grads.dtype == np.float32 and grads.shape == x.shape
    r = interpret.fgsm(interpret.Classifier(net, mode="py"), x, epsilon=0.05)
    assert r.original.dtype == r.adversarial.dtype == np.float32
    assert r.linf.max() <= 0.05 + 1e-6


def test_attack_result_repr_is_one_short_line():
    n = 64
    original = np.zeros((n, 3, 32, 32), dtype="float32")
    adversarial = original.copy()
    adversarial[:, 0, 0, 0] = 0.5
    adversarial[0, 1, 2, 3] = -1.0
    success = np.arange(n) % 4 == 0
    labels = np.zeros(n, dtype=int)
    conf = np.full(n, 0.9)
    result = interpret.AttackResult(
        original, adversarial, labels, conf, labels + 1, conf, None, None, success, (0, 1), "fgsm"
    )
    l2 = np.sqrt(((adversarial - original).reshape(n, -1) ** 2).sum(axis=1)).mean()
    assert repr(result) == (
        f"AttackResult(method='fgsm', images (64, 3, 32, 32) float32, success 16/64, "
        f"mean L2 {l2:.4g}, max Linf 1)"
    )
    assert str(result) == repr(result) and "\n" not in repr(result)
