"""Recurrent layers against NumPy loops and PyTorch, under the JAX, C and numba backends.

The NumPy references below are plain loops over time, written from the layers' documented
equations; PyTorch's ``nn.LSTM``/``nn.GRU`` are a second, independent reference where their
equations coincide with Lasagne's (see the comments there).
"""

import jax
import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
import torch
from pytensor.scan.op import Scan

from convnet import init, nonlinearities
from convnet.layers import (
    Conv2DLayer,
    CustomRecurrentLayer,
    DenseLayer,
    Gate,
    GRULayer,
    InputLayer,
    LSTMLayer,
    RecurrentLayer,
    get_all_layers,
    get_all_params,
    get_output,
)
from tests.layers.harness import check_grad, compile_fn, float64

MODES = ("jax", "c")


# -- NumPy references ----------------------------------------------------------------------


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_loop(step, x, states, mask=None, backwards=False):
    """Run ``step(x_t, *states) -> states`` over axis 1 of ``x``; return each state stacked
    as (batch, time, ...) in input order. Where ``mask`` is 0 the states are carried over."""
    T_ = x.shape[1]
    order = range(T_ - 1, -1, -1) if backwards else range(T_)
    outs = [np.zeros((x.shape[0], T_) + s.shape[1:]) for s in states]
    for t in order:
        new = step(x[:, t], *states)
        if mask is not None:
            m = mask[:, t].reshape((-1,) + (1,) * (states[0].ndim - 1)) != 0
            new = [np.where(m, n, s) for n, s in zip(new, states)]
        states = new
        for o, s in zip(outs, states):
            o[:, t] = s
    return outs


def np_rnn(x, W, U, b, h0, nonlinearity=np.tanh, **kw):
    def step(xt, h):
        return [nonlinearity(xt @ W + h @ U + b)]

    return np_loop(step, x, [h0], **kw)[0]


def np_lstm(x, p, h0, c0, peepholes=True, **kw):
    def step(xt, c, h):
        def pre(g):
            return xt @ p[f"W_in_to_{g}"] + h @ p[f"W_hid_to_{g}"] + p[f"b_{g}"]

        i, f, o = pre("ingate"), pre("forgetgate"), pre("outgate")
        if peepholes:
            i = i + c * p["W_cell_to_ingate"]
            f = f + c * p["W_cell_to_forgetgate"]
        c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(pre("cell"))
        if peepholes:
            o = o + c_new * p["W_cell_to_outgate"]
        return [c_new, sigmoid(o) * np.tanh(c_new)]

    return np_loop(step, x, [c0, h0], **kw)[1]


def np_gru(x, p, h0, **kw):
    def step(xt, h):
        def part(g):
            return xt @ p[f"W_in_to_{g}"] + p[f"b_{g}"], h @ p[f"W_hid_to_{g}"]

        r = sigmoid(sum(part("resetgate")))
        u = sigmoid(sum(part("updategate")))
        c_in, c_hid = part("hidden_update")
        c = np.tanh(c_in + r * c_hid)
        return [(1 - u) * h + u * c]

    return np_loop(step, x, [h0], **kw)[0]


def values(layer):
    """The layer's own parameters by their unprefixed names, as float64 arrays."""
    return {p.name.split(".")[-1]: np.asarray(p.get_value(), "float64") for p in layer.params}


def random_gate(rng, scale=0.5, nonlinearity=nonlinearities.sigmoid):
    def draw(shape):
        return rng.uniform(-scale, scale, size=shape).astype(pytensor.config.floatX)

    return Gate(W_in=draw, W_hid=draw, W_cell=draw, b=draw, nonlinearity=nonlinearity)


def random_gates(rng, n):
    """n random gates, the third (the LSTM's cell, the GRU's hidden update) with tanh."""
    return [
        random_gate(rng, nonlinearity=nonlinearities.tanh if k == 2 else nonlinearities.sigmoid)
        for k in range(n)
    ]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4))
    mask = np.ones((3, 5))
    mask[1, 3:] = 0  # a sequence of length 3
    mask[2, 1:] = 0  # a sequence of length 1
    return x, mask


# -- values: each configuration against the NumPy loop --------------------------------------

CONFIGS = [  # (backwards, precompute_input, use_mask, only_return_final, unroll_scan)
    (False, True, False, False, False),
    (True, True, True, False, False),
    (False, False, True, False, False),
    (True, False, False, True, False),
    (False, True, True, True, True),
    (True, True, True, False, True),
]


def _build_all(l_in, l_mask, rng, configs):
    """For each config: an RNN, an LSTM (peepholes) and a GRU, with their references."""
    layers, refs = [], []
    h0 = rng.uniform(-0.5, 0.5, size=(1, 6))
    c0 = rng.uniform(-0.5, 0.5, size=(1, 6))
    for backwards, precompute, use_mask, final, unroll in configs:
        kw = dict(
            backwards=backwards,
            precompute_input=precompute,
            mask_input=l_mask if use_mask else None,
            only_return_final=final,
            unroll_scan=unroll,
        )
        rnn = RecurrentLayer(
            l_in, 6, nonlinearity=nonlinearities.tanh, b=init.Uniform(0.5), hid_init=h0, **kw
        )
        lstm = LSTMLayer(l_in, 6, *random_gates(rng, 4), hid_init=h0, cell_init=c0, **kw)
        gru = GRULayer(l_in, 6, *random_gates(rng, 3), hid_init=h0, **kw)
        layers += [rnn, lstm, gru]

        def make_refs(x, mask, rnn=rnn, lstm=lstm, gru=gru, use_mask=use_mask, final=final):
            kw = dict(mask=mask if use_mask else None, backwards=rnn.backwards)
            p_rnn = values(rnn.input_to_hidden)
            H0, C0 = np.repeat(h0, len(x), 0), np.repeat(c0, len(x), 0)
            outs = [
                np_rnn(x, p_rnn["W"], values(rnn.hidden_to_hidden)["W"], p_rnn["b"], H0, **kw),
                np_lstm(x, values(lstm), H0, C0, **kw),
                np_gru(x, values(gru), H0, **kw),
            ]
            if final:
                last = 0 if rnn.backwards else -1
                outs = [o[:, last] for o in outs]
            return outs

        refs.append(make_refs)
    return layers, refs


@pytest.mark.parametrize(
    "mode, configs",
    [
        ("jax", CONFIGS[1:2]),
        ("c", CONFIGS[3:4]),
        pytest.param("jax", CONFIGS, marks=pytest.mark.slow),
        pytest.param("c", CONFIGS, marks=pytest.mark.slow),
    ],
)
def test_values_against_numpy_loops(mode, configs, data):
    # Every configuration compiled at once (the slow cases); two in the default suite.
    x, mask = data
    rng = np.random.default_rng(1)
    l_in, l_mask = InputLayer((None, 5, 4)), InputLayer((None, 5))
    layers, refs = _build_all(l_in, l_mask, rng, configs)
    inputs = [l_in.input_var, l_mask.input_var]
    fn = compile_fn(inputs, get_output(layers), mode, on_unused_input="ignore")
    outs = fn(x, mask)
    expected = [r for make in refs for r in make(x, mask)]
    for layer, out, ref in zip(layers, outs, expected, strict=True):
        assert out.shape == ref.shape, layer
        assert layer.output_shape[1:] == ref.shape[1:]
        np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12, err_msg=repr(layer))


def test_masked_steps_carry_the_state(data):
    # Independent of the references: after a sequence ends its state stays as it was.
    x, mask = data
    l_in, l_mask = InputLayer((None, 5, 4)), InputLayer((None, 5))
    l = LSTMLayer(l_in, 3, mask_input=l_mask)
    out = compile_fn([l_in.input_var, l_mask.input_var], get_output(l), "c")(x, mask)
    np.testing.assert_array_equal(out[1, 3:], np.repeat(out[1, 2:3], 2, 0))
    np.testing.assert_array_equal(out[2, 1:], np.repeat(out[2, :1], 4, 0))
    assert not np.allclose(out[0, 3], out[0, 2])


# -- PyTorch: LSTM and GRU, forward and gradients, float32 ----------------------------------


def _torch_lstm_layer(l_in, n, module):
    """An LSTMLayer with torch.nn.LSTM's weights. Torch stacks its gates (i, f, g, o), our
    order too, as rows of (4n, F) matrices; ours are (F, n) columns. Torch has two biases,
    summed here; it has no peepholes, so peepholes=False."""
    w_ih = module.weight_ih_l0.detach().numpy()
    w_hh = module.weight_hh_l0.detach().numpy()
    b = (module.bias_ih_l0 + module.bias_hh_l0).detach().numpy()
    gates = [
        Gate(
            W_in=w_ih[k * n : (k + 1) * n].T.copy(),
            W_hid=w_hh[k * n : (k + 1) * n].T.copy(),
            W_cell=None,
            b=b[k * n : (k + 1) * n].copy(),
            nonlinearity=nonlinearities.tanh if k == 2 else nonlinearities.sigmoid,
        )
        for k in range(4)
    ]
    return LSTMLayer(l_in, n, *gates, peepholes=False)


def _torch_gru_layer(l_in, n, module):
    """A GRULayer with torch.nn.GRU's weights.

    Torch (gates r, z, n):  n_t = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
    h_t = (1 - z) * n_t + z * h.  Lasagne: c_t = tanh(x W_xc + b_c + r * (h W_hc)),
    h_t = (1 - u) * h + u * c_t.  Both apply the reset gate after the hidden matmul (Cho et
    al.'s form), so they coincide when torch's b_hn = 0 (zeroed below) and u = 1 - z, i.e.
    Lasagne's update gate gets torch's update weights and biases negated (sigmoid(-a) =
    1 - sigmoid(a)). Lasagne's formula itself is checked against np_gru above."""
    with torch.no_grad():
        module.bias_hh_l0[2 * n :] = 0
    w_ih = module.weight_ih_l0.detach().numpy()
    w_hh = module.weight_hh_l0.detach().numpy()
    b = (module.bias_ih_l0 + module.bias_hh_l0).detach().numpy()

    def gate(k, sign=1.0, nonlinearity=nonlinearities.sigmoid):
        rows = slice(k * n, (k + 1) * n)
        return Gate(
            W_in=sign * w_ih[rows].T,
            W_hid=sign * w_hh[rows].T,
            W_cell=None,
            b=sign * b[rows],
            nonlinearity=nonlinearity,
        )

    return GRULayer(l_in, n, gate(0), gate(1, -1.0), gate(2, nonlinearity=nonlinearities.tanh))


@pytest.mark.parametrize("mode", MODES)
def test_lstm_and_gru_against_torch_float32(mode, floatX32):
    torch.manual_seed(0)
    n, F = 5, 4
    x = np.random.default_rng(0).normal(size=(2, 6, F)).astype("float32")
    t_lstm, t_gru = torch.nn.LSTM(F, n, batch_first=True), torch.nn.GRU(F, n, batch_first=True)
    l_in = InputLayer((None, None, F))
    layers = [_torch_lstm_layer(l_in, n, t_lstm), _torch_gru_layer(l_in, n, t_gru)]
    outs = get_output(layers)
    weights = [[layer.W_in_to_ingate, layer.W_hid_to_forgetgate] for layer in layers[:1]] + [
        [layers[1].W_in_to_updategate, layers[1].W_hid_to_hidden_update]
    ]
    # A loss that weighs every output differently, so every gradient entry is checked.
    R = np.random.default_rng(1).normal(size=(2, 6, n)).astype("float32")
    grads = []
    for out, ws in zip(outs, weights):
        loss = (out * R).sum()
        grads += pytensor.grad(loss, [l_in.input_var, *ws])
    fn = compile_fn([l_in.input_var], outs + grads, mode)
    results = fn(x)
    assert all(r.dtype == np.float32 for r in results)

    xt = torch.tensor(x, requires_grad=True)
    Rt = torch.tensor(R)
    expected = []
    for module in (t_lstm, t_gru):
        xt.grad = None
        module.zero_grad()
        out, _ = module(xt)
        (out * Rt).sum().backward()
        expected.append((out.detach().numpy(), xt.grad.numpy().copy(), module))
    tol = dict(rtol=2e-4, atol=2e-5)
    (o_lstm, o_gru, gx_lstm, gWi_lstm, gWh_lstm, gx_gru, gWi_gru, gWh_gru) = results
    np.testing.assert_allclose(o_lstm, expected[0][0], **tol)
    np.testing.assert_allclose(o_gru, expected[1][0], **tol)
    np.testing.assert_allclose(gx_lstm, expected[0][1], **tol)
    np.testing.assert_allclose(gx_gru, expected[1][1], **tol)
    # dL/dW_in_to_ingate = (torch's input rows 0:n).T; W_hid_to_forgetgate: rows n:2n.
    np.testing.assert_allclose(gWi_lstm, t_lstm.weight_ih_l0.grad[:n].numpy().T, **tol)
    np.testing.assert_allclose(gWh_lstm, t_lstm.weight_hh_l0.grad[n : 2 * n].numpy().T, **tol)
    # The update gate's weights are torch's negated, so are their gradients.
    np.testing.assert_allclose(gWi_gru, -t_gru.weight_ih_l0.grad[n : 2 * n].numpy().T, **tol)
    np.testing.assert_allclose(gWh_gru, t_gru.weight_hh_l0.grad[2 * n :].numpy().T, **tol)


@pytest.mark.slow
def test_numba_forward_matches_c(data):
    # numba compiles a scan's inner function for a long time (~1 min per layer on 2 cores).
    x, mask = data
    rng = np.random.default_rng(2)
    l_in, l_mask = InputLayer((None, 5, 4)), InputLayer((None, 5))
    layers = [
        LSTMLayer(l_in, 3, *random_gates(rng, 4), mask_input=l_mask),
        GRULayer(l_in, 3, backwards=True),
    ]
    outs = get_output(layers)
    inputs = [l_in.input_var, l_mask.input_var]
    got = compile_fn(inputs, outs, "numba")(x, mask)
    want = compile_fn(inputs, outs, "c")(x, mask)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_float32_stays_float32_inside_the_loop(floatX32):
    l_in, l_mask = InputLayer((None, None, 3)), InputLayer((None, None))
    layers = [
        LSTMLayer(l_in, 4, mask_input=l_mask, grad_clipping=1.0, gradient_steps=2),
        GRULayer(l_in, 4, mask_input=l_mask, grad_clipping=1.0, learn_init=True, backwards=True),
    ]
    outs = get_output(layers)
    loss = sum(o.sum() for o in outs)
    grads = pytensor.grad(loss, get_all_params(layers, trainable=True))
    # The python linker: the same graph rewrites as the other modes, no compiler to wait for.
    fn = compile_fn([l_in.input_var, l_mask.input_var], outs + grads, "py")

    def float64_vars(fgraph):
        found = []
        for node in fgraph.apply_nodes:
            found += [v for v in node.outputs if getattr(v.type, "dtype", "") == "float64"]
            if isinstance(node.op, Scan):
                found += float64_vars(node.op.fgraph)
        return found

    assert float64_vars(fn.fn.maker.fgraph) == []
    x = np.ones((2, 3, 3), "float32")
    for r in fn(x, np.ones((2, 3), "float32")):
        assert r.dtype == np.float32


# -- the loop under JAX: one lax.scan, whatever the length ----------------------------------


def _jaxpr(fn, x):
    """The jaxpr of the JAX function behind ``fn`` (one input ``x``, then shared values)."""
    fn(x)
    storage = [container.storage[0] for container in fn.fn.input_storage]
    return str(jax.make_jaxpr(fn.fn.vm.jit_fn)(x, *storage[1:]))


def test_jax_compiles_one_scan_not_one_per_step():
    l_in = InputLayer((None, None, 3))
    l = LSTMLayer(l_in, 4, only_return_final=True)
    fn = compile_fn([l_in.input_var], get_output(l), "jax")
    scans = [n for n in fn.fn.maker.fgraph.apply_nodes if isinstance(n.op, Scan)]
    assert len(scans) == 1
    short = _jaxpr(fn, np.ones((2, 4, 3)))
    long = _jaxpr(fn, np.ones((2, 40, 3)))
    assert short.count(" scan[") == long.count(" scan[") == 1
    # the same equations for 4 steps or 40: the step is traced once
    assert short.count(" = ") == long.count(" = ")
    # unroll_scan, by contrast, traces every step
    unrolled = LSTMLayer(InputLayer((None, 4, 3)), 4, unroll_scan=True)
    fn = compile_fn([unrolled.input_layers[0].input_var], get_output(unrolled), "jax")
    assert " scan[" not in _jaxpr(fn, np.ones((2, 4, 3)))


# -- options ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, backwards", [("jax", True), ("c", False)])
def test_gradient_steps_truncate_like_scan_truncate_gradient(mode, backwards):
    # Reference: PyTensor's own scan(truncate_gradient=k) (Theano's truncated BPTT), built
    # by hand for the same RNN, evaluated in C mode.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 6, 3))
    l_in = InputLayer((None, None, 3))
    layer = RecurrentLayer(
        l_in,
        4,
        nonlinearity=nonlinearities.tanh,
        gradient_steps=2,
        learn_init=True,
        backwards=backwards,
    )
    W, U, b, h0 = layer.W_in_to_hid, layer.W_hid_to_hid, layer.b, layer.hid_init
    R = rng.normal(size=(2, 6, 4))
    params = [W, U, b, h0]
    out = get_output(layer)
    got = compile_fn(
        [l_in.input_var], pytensor.grad((out * R).sum(), [l_in.input_var, *params]), mode
    )(x)

    xs = T.tensor3()
    h_init = T.broadcast_to(h0, (xs.shape[1], 4))
    ref_out = pytensor.scan(
        lambda xt, h: T.tanh(T.dot(xt, W) + T.dot(h, U) + b),
        sequences=[xs],
        outputs_info=[h_init],
        truncate_gradient=2,
        go_backwards=backwards,
        return_updates=False,
    )
    if backwards:
        ref_out = ref_out[::-1]
    ref_grads = pytensor.grad((ref_out.dimshuffle(1, 0, 2) * R).sum(), [xs, *params])
    want = compile_fn([xs], ref_grads, "c")(x.transpose(1, 0, 2))
    want[0] = want[0].transpose(1, 0, 2)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    last_two = slice(0, 2) if backwards else slice(4, 6)  # the last two steps that ran
    earlier = slice(2, 6) if backwards else slice(0, 4)
    assert np.all(got[0][:, last_two] != 0) and np.all(got[0][:, earlier] == 0)
    assert np.all(got[-1] == 0)  # the initial state is beyond the truncation


@pytest.mark.parametrize("mode", MODES)
def test_grad_clipping_clips_the_gradient_of_each_step(mode):
    # Linear RNN over two steps, loss sum(R1*h1 + R2*h2): the gradients at the
    # pre-activations are g2 = clip(R2), g1 = clip(R1 + g2 U^T); dW = x1^T g1 + x2^T g2.
    rng = np.random.default_rng(4)
    x, R = rng.normal(size=(2, 2, 3)), 3 * rng.normal(size=(2, 2, 4))
    U0 = rng.normal(size=(4, 4))
    l_in = InputLayer((None, 2, 3))
    clipped = RecurrentLayer(l_in, 4, W_hid_to_hid=U0, nonlinearity=None, grad_clipping=0.5)
    free = RecurrentLayer(l_in, 4, W_hid_to_hid=U0, nonlinearity=None)
    free.W_in_to_hid.set_value(clipped.W_in_to_hid.get_value())
    outs = get_output([clipped, free])
    grads = [
        pytensor.grad((o * R).sum(), layer.W_in_to_hid) for o, layer in zip(outs, [clipped, free])
    ]
    fn = compile_fn([l_in.input_var], outs + grads, mode)
    out_c, out_f, dW_c, dW_f = fn(x)
    np.testing.assert_allclose(out_c, out_f)  # the forward pass is unchanged
    g2 = np.clip(R[:, 1], -0.5, 0.5)
    g1 = np.clip(R[:, 0] + g2 @ U0.T, -0.5, 0.5)
    np.testing.assert_allclose(dW_c, x[:, 0].T @ g1 + x[:, 1].T @ g2, rtol=1e-10)
    np.testing.assert_allclose(
        dW_f, x[:, 0].T @ (R[:, 0] + R[:, 1] @ U0.T) + x[:, 1].T @ R[:, 1], rtol=1e-10
    )


def test_learn_init_makes_the_initial_states_parameters():
    l_in = InputLayer((None, 3, 2))
    for cls, inits in (
        (RecurrentLayer, ["hid_init"]),
        (LSTMLayer, ["cell_init", "hid_init"]),
        (GRULayer, ["hid_init"]),
    ):
        fixed, learned = cls(l_in, 3), cls(l_in, 3, learn_init=True)
        names = {p.name for p in learned.get_params(trainable=True)}
        assert set(inits) <= names
        assert not set(inits) & {p.name for p in fixed.get_params(trainable=True)}
        assert not set(inits) & {p.name for p in learned.get_params(regularizable=True)}
    # hid_init as a layer: its network is part of this one, inputs in a fixed order
    l_h, l_c, l_m = InputLayer((None, 3)), InputLayer((None, 3)), InputLayer((None, 3))
    l_dense = DenseLayer(l_h, 3)
    lstm = LSTMLayer(l_in, 3, hid_init=l_dense, cell_init=l_c, mask_input=l_m)
    assert lstm.input_layers == [l_in, l_m, l_dense, l_c]
    assert (
        lstm.mask_incoming_index,
        lstm.hid_init_incoming_index,
        lstm.cell_init_incoming_index,
    ) == (1, 2, 3)
    assert l_h in get_all_layers(lstm)
    assert l_dense.W in get_all_params(lstm)


def test_initial_states_from_layers_equal_arrays():
    rng = np.random.default_rng(5)
    h0, c0, x = rng.normal(size=(1, 3)), rng.normal(size=(1, 3)), rng.normal(size=(2, 4, 2))
    l_in, l_h, l_c = InputLayer((None, 4, 2)), InputLayer((None, 3)), InputLayer((None, 3))
    gates = [random_gate(rng) for _ in range(4)]
    from_layers = LSTMLayer(l_in, 3, *gates, hid_init=l_h, cell_init=l_c)
    from_arrays = LSTMLayer(l_in, 3, *gates, hid_init=h0, cell_init=c0)
    for p, q in zip(from_layers.params, from_arrays.params):
        q.set_value(p.get_value())
    fn = compile_fn(
        [l_in.input_var, l_h.input_var, l_c.input_var], get_output([from_layers, from_arrays]), "c"
    )
    a, b = fn(x, np.repeat(h0, 2, 0), np.repeat(c0, 2, 0))
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_custom_recurrent_layer_with_convolutions_and_a_mask():
    # A convolutional recurrence: 4-d states (batch, channels, rows, cols); the mask is
    # broadcast over all of the state's axes.
    l_in, l_mask = InputLayer((2, 3, 1, 4, 4)), InputLayer((2, 3))
    i2h = Conv2DLayer(InputLayer((None, 1, 4, 4)), 2, 3, pad="same")
    h2h = Conv2DLayer(InputLayer((None, 2, 4, 4)), 2, 3, pad="same")
    l_rec = CustomRecurrentLayer(l_in, i2h, h2h, mask_input=l_mask, name="convrnn")
    assert l_rec.output_shape == (2, 3, 2, 4, 4)
    assert {i2h.W, h2h.W, i2h.b, h2h.b} <= set(l_rec.get_params())
    x = float64(2, 3, 1, 4, 4, seed=6)
    mask = np.array([[1, 1, 0], [1, 0, 0]], "float64")
    fn = compile_fn([l_in.input_var, l_mask.input_var], get_output(l_rec), "jax")
    out = fn(x, mask)
    np.testing.assert_array_equal(out[0, 2], out[0, 1])
    np.testing.assert_array_equal(out[1, 2], out[1, 0])
    # first step against NumPy: relu(conv_i(x_0) + conv_h(0)) = relu(conv_i(x_0) + b_h)
    step0 = compile_fn([i2h.input_layer.input_var], get_output(i2h), "c")(x[:, 0])
    np.testing.assert_allclose(out[:, 0], np.maximum(step0 + h2h.b.get_value()[:, None, None], 0))


# -- finite differences (float64) ----------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("rnn", marks=pytest.mark.slow),
        "lstm",
        pytest.param("gru", marks=pytest.mark.slow),
    ],
)
def test_gradients_by_finite_differences(kind):
    rng = np.random.default_rng(7)
    mask = np.array([[1, 1, 1], [1, 1, 0]], "float64")

    def fun(x, h0, W_hid):
        l_in, l_h = InputLayer((2, 3, 2)), InputLayer((2, 3))
        l_m = InputLayer((2, 3))
        kw = dict(mask_input=l_m, hid_init=l_h, backwards=True)
        if kind == "rnn":
            layer = RecurrentLayer(
                l_in, 3, W_hid_to_hid=W_hid, nonlinearity=nonlinearities.tanh, **kw
            )
        else:
            gates = [random_gate(np.random.default_rng(8)) for _ in range(4)]
            gates[1].W_hid = W_hid
            if kind == "lstm":
                layer = LSTMLayer(l_in, 3, *gates, **kw)
            else:
                layer = GRULayer(l_in, 3, *gates[:3], **kw)
        return get_output(layer, {l_in: x, l_h: h0, l_m: T.constant(mask)}).sum() * 1.0

    check_grad(
        fun,
        [rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 3)), rng.normal(size=(3, 3)) * 0.5],
        mode="c",
    )


# -- bad arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, match",
    [
        (
            lambda l: LSTMLayer(l, 0, name="enc"),
            r"LSTMLayer 'enc': num_units: expected an int >= 1, received 0",
        ),
        (
            lambda l: GRULayer(l, 4, gradient_steps=0),
            r"GRULayer: gradient_steps: expected -1 .* received 0",
        ),
        (
            lambda l: RecurrentLayer(l, 4, gradient_steps=3, unroll_scan=True, name="r"),
            r"RecurrentLayer 'r': gradient_steps: expected -1 when unroll_scan=True",
        ),
        (
            lambda l: LSTMLayer(InputLayer((2, None, 3)), 4, unroll_scan=True),
            r"LSTMLayer: unroll_scan=True needs a known sequence length, "
            r"received input shape \(2, None, 3\)",
        ),
        (
            lambda l: GRULayer(InputLayer((2, 3)), 4),
            r"GRULayer: expected an input of at least 3 dimensions .* received shape \(2, 3\)",
        ),
        (
            lambda l: LSTMLayer(l, 4, mask_input=InputLayer((2, 7))),
            r"LSTMLayer: mask_input: expected a mask of shape \(batch, time\) matching the "
            r"input shape \(2, 5, 3\), received shape \(2, 7\)",
        ),
        (
            lambda l: GRULayer(l, 4, hid_init=InputLayer((2, 5))),
            r"GRULayer: hid_init: expected a layer with output shape \(None, 4\) .* "
            r"received output shape \(2, 5\)",
        ),
        (
            lambda l: LSTMLayer(l, 4, ingate="sigmoid", name="lstm"),
            r"LSTMLayer 'lstm': ingate: expected a Gate, received str",
        ),
        (
            lambda l: LSTMLayer(l, 4, outgate=Gate(W_cell=None)),
            r"LSTMLayer: outgate: expected a Gate with W_cell when peepholes=True",
        ),
        (
            lambda l: RecurrentLayer(l, 4, grad_clipping=-1),
            r"RecurrentLayer: grad_clipping: expected a number >= 0",
        ),
        (
            lambda l: RecurrentLayer(l, 4, grad_clipping="1"),
            r"RecurrentLayer: grad_clipping: expected a number",
        ),
        (lambda l: LSTMLayer(l, 4, W_in=None), r"unexpected keyword argument 'W_in'"),
        (
            lambda l: CustomRecurrentLayer(
                l,
                DenseLayer(InputLayer((None, 3)), 4),
                DenseLayer(InputLayer((None, 5)), 4),
                name="c",
            ),
            r"CustomRecurrentLayer 'c': hidden_to_hidden: expected its InputLayer to have the "
            r"shape of the state \(None, 4\), received \(None, 5\)",
        ),
        (
            lambda l: CustomRecurrentLayer(l, DenseLayer(InputLayer((None, 3)), 4), "dense"),
            r"CustomRecurrentLayer: hidden_to_hidden: expected a Layer, received str",
        ),
        (
            lambda l: CustomRecurrentLayer(
                l, DenseLayer(InputLayer((7, 3)), 4), DenseLayer(InputLayer((None, 4)), 4)
            ),
            r"CustomRecurrentLayer: input_to_hidden: with precompute_input=True its output "
            r"must have batch \* time = 10 rows",
        ),
    ],
)
def test_bad_arguments_name_the_layer(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build(InputLayer((2, 5, 3)))


def test_jax_scan_gradient_with_an_unknown_length():
    # The workaround in convnet/ops/jax.py: without it the gradient's buffers, of size
    # n_steps + 1, got a traced size under jax.jit ("Shapes must be 1D sequences of concrete
    # values"). A plain scan, checked against the C backend.
    xs = T.tensor3("xs")
    W = pytensor.shared(float64(3, 3, seed=9), name="W")
    out = pytensor.scan(
        lambda xt, h: T.tanh(xt + T.dot(h, W)),
        sequences=[xs],
        outputs_info=[T.zeros((xs.shape[1], 3))],
        return_updates=False,
    )
    grads = pytensor.grad((out**2).sum(), [xs, W])
    x = float64(4, 2, 3, seed=10)
    got = compile_fn([xs], grads, "jax")(x)
    want = compile_fn([xs], grads, "c")(x)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10)
