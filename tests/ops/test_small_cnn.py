"""A small CNN on 32x32x3 float32 images: parameter gradients against float64 torch.

conv3x3(32, pad 1) + relu, maxpool 2, conv3x3(64, pad 1) + relu, maxpool 2, dense(10),
softmax cross-entropy, built from the raw operators. In float32 a window whose two largest
values are a few ulps apart can be ordered differently than in float64, and max-pooling then
routes that window's gradient to the other element (see docs/guide/operators.rst). No float32
implementation can exclude that, so the float64 reference pools by the candidate's OWN choice
of maximum; with that the gradients agree to float32 rounding. In float64 the candidate is
compared with plain max-pooling.
"""

import numpy as np
import pytensor.tensor as pt
import pytest
import torch
import torch.nn.functional as F

import convnet
from convnet.ops import conv, pool

from .harness import torch_one_thread

BATCH = 4
SHAPES = {
    "W1": (32, 3, 3, 3),
    "b1": (32,),
    "W2": (64, 32, 3, 3),
    "b2": (64,),
    "W3": (64 * 8 * 8, 10),
    "b3": (10,),
}


def _data():
    rng = np.random.default_rng(2024)
    params = {
        "W1": rng.normal(0, np.sqrt(2 / 27), SHAPES["W1"]),
        "b1": rng.normal(0, 0.1, SHAPES["b1"]),
        "W2": rng.normal(0, np.sqrt(2 / 288), SHAPES["W2"]),
        "b2": rng.normal(0, 0.1, SHAPES["b2"]),
        "W3": rng.normal(0, np.sqrt(1 / 4096), SHAPES["W3"]),
        "b3": rng.normal(0, 0.1, SHAPES["b3"]),
    }
    x = rng.uniform(0, 1, (BATCH, 3, 32, 32))
    y = rng.integers(0, 10, BATCH)
    return x, y, params


def _relu(v):
    return pt.switch(v > 0, v, 0)  # derivative 0 at 0, as convnet.nonlinearities.rectify


def _compile(mode, dtype):
    x = pt.tensor("x", dtype=dtype, shape=(None, 3, 32, 32))
    y = pt.lvector("y")
    p = {k: pt.tensor(k, dtype=dtype, shape=s) for k, s in SHAPES.items()}
    a1 = _relu(conv(x, p["W1"], padding=1) + p["b1"].dimshuffle("x", 0, "x", "x"))
    a2 = _relu(conv(pool(a1, (2, 2)), p["W2"], padding=1) + p["b2"].dimshuffle("x", 0, "x", "x"))
    logits = pt.dot(pool(a2, (2, 2)).flatten(2), p["W3"]) + p["b3"]
    loss = -pt.special.log_softmax(logits, axis=-1)[pt.arange(y.shape[0]), y].mean()
    grads = pt.grad(loss, list(p.values()))
    fn = convnet.function([x, y, *p.values()], [loss, a1, a2, *grads], mode=mode)
    return fn


def _pool_at(a, choice):
    """2x2 max-pool of torch ``a`` taking, per window, the element ``choice`` (flat index)."""
    n, c, h, w = a.shape
    windows = a.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(n, c, h // 2, w // 2, 4)
    return torch.gather(windows, -1, torch.as_tensor(choice)[..., None])[..., 0]


def _first_argmax(a):
    """Flat index of each 2x2 window's first maximum in NumPy array ``a``."""
    n, c, h, w = a.shape
    windows = a.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    return windows.reshape(n, c, h // 2, w // 2, 4).argmax(axis=-1)


@torch_one_thread()
def _reference(x, y, params, choices=None):
    """float64 torch loss and gradients; pool by ``choices`` (two argmax arrays) if given."""
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    xt = torch.tensor(x, dtype=torch.float64)

    def pool2(a, i):
        return F.max_pool2d(a, 2) if choices is None else _pool_at(a, choices[i])

    a1 = torch.relu(F.conv2d(xt, p["W1"], p["b1"], padding=1))
    a2 = torch.relu(F.conv2d(pool2(a1, 0), p["W2"], p["b2"], padding=1))
    logits = pool2(a2, 1).flatten(1) @ p["W3"] + p["b3"]
    loss = F.cross_entropy(logits, torch.as_tensor(y))
    grads = torch.autograd.grad(loss, list(p.values()))
    return loss.item(), {k: g.numpy() for k, g in zip(p, grads)}


def _assert_gradients_close(got, expected, rtol):
    for name, g in zip(SHAPES, got):
        ref = expected[name]
        err = np.linalg.norm(g - ref) / np.linalg.norm(ref)
        assert err < rtol, f"{name}: relative error {err:.2e}"
        np.testing.assert_allclose(g, ref, rtol=50 * rtol, atol=rtol * np.abs(ref).max())


@pytest.mark.parametrize("mode", ["jax", "c"])
def test_float32_gradients_match_float64_pooled_by_the_candidates_argmax(mode):
    x, y, params = _data()
    cast = {k: v.astype("float32") for k, v in params.items()}
    loss, a1, a2, *grads = _compile(mode, "float32")(x.astype("float32"), y, *cast.values())
    assert [g.dtype for g in grads] == [np.float32] * len(grads)
    choices = (_first_argmax(a1), _first_argmax(a2))
    # the float32-cast parameters are the point at which the reference is evaluated
    ref_loss, ref_grads = _reference(x.astype("float32"), y, cast, choices)
    assert abs(loss - ref_loss) < 1e-5 * abs(ref_loss)
    _assert_gradients_close(grads, ref_grads, rtol=2e-5)


def test_float64_gradients_match_plain_max_pooling():
    x, y, params = _data()
    loss, _, _, *grads = _compile("c", "float64")(x, y, *params.values())
    ref_loss, ref_grads = _reference(x, y, params)
    assert abs(loss - ref_loss) < 1e-12 * abs(ref_loss)
    _assert_gradients_close(grads, ref_grads, rtol=1e-10)
