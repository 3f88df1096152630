"""convnet.backend: functions return NumPy whatever the mode; shared variables stay NumPy."""

import numpy as np
import pytensor.tensor as T

import convnet
from convnet import layers as L
from convnet import nonlinearities, objectives, updates


def _small_cnn():
    """A conv + dense classifier (build under floatX32), its parameters, inputs, loss, updates."""
    old = convnet.random.get_rng()
    convnet.random.set_rng(np.random.RandomState(0))
    try:
        net = L.InputLayer((None, 1, 6, 6))
        net = L.Conv2DLayer(net, 3, 3, name="conv")
        net = L.DenseLayer(net, 4, nonlinearity=nonlinearities.softmax, name="out")
    finally:
        convnet.random.set_rng(old)
    x, t = net.input_layer.input_layer.input_var, T.ivector("t")
    loss = objectives.categorical_crossentropy(L.get_output(net), t).mean()
    params = L.get_all_params(net, trainable=True)
    return net, params, [x, t], loss, updates.momentum(loss, params, 0.1)


def _data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((5, 1, 6, 6)).astype("float32"), np.array([0, 1, 2, 3, 0], "int32")


def test_shared_variables_are_numpy_after_a_jax_step_and_run_under_c(floatX32):
    net, params, inputs, loss, ups = _small_cnn()
    shared = list(ups)  # parameters and momentum velocities
    data = _data()
    step_jax = convnet.function(inputs, loss, updates=ups, mode="jax")
    step_jax(*data)
    for p in shared:
        assert type(p.get_value()) is np.ndarray, f"{p.name}: get_value() is {type(p.get_value())}"
        value = p.get_value(borrow=True)
        assert type(value) is np.ndarray, f"{p.name}: get_value(borrow=True) is {type(value)}"
        assert value.dtype == np.float32, f"{p.name}: {value.dtype}"
    for value in L.get_all_param_values(net):
        assert type(value) is np.ndarray, f"get_all_param_values gave {type(value)}"

    # A C-mode step on the values the JAX step left, then on NumPy copies of them: the same.
    after_jax = [np.array(p.get_value()) for p in shared]
    held = [p.get_value(borrow=True) for p in shared]  # views of JAX's buffers
    step_c = convnet.function(inputs, loss, updates=ups, mode="c")
    loss_a = step_c(*data)
    values_a = [p.get_value() for p in shared]
    for p, value in zip(shared, after_jax):
        p.set_value(value.copy())
    loss_b = step_c(*data)
    np.testing.assert_array_equal(loss_a, loss_b)
    for p, a, before in zip(shared, values_a, after_jax):
        np.testing.assert_array_equal(a, p.get_value(), err_msg=p.name)
        assert not np.array_equal(a, before), f"{p.name}: the C step changed nothing"
    # the C step updated copies, not the buffers the JAX step produced
    for p, view, value in zip(shared, held, after_jax):
        np.testing.assert_array_equal(view, value, err_msg=f"{p.name}: JAX buffer changed")

    # and JAX runs again on the C mode's NumPy values, as C does on copies of them
    before = [np.array(p.get_value()) for p in shared]
    loss_jax = step_jax(*data)
    for p, value in zip(shared, before):
        p.set_value(value.copy())
    np.testing.assert_allclose(loss_jax, step_c(*data), rtol=1e-5)


# --------------------------------------------------------------------------------------------
# JAX's persistent compilation cache
# --------------------------------------------------------------------------------------------

_CACHE_SCRIPT = r"""
import json, sys
import jax
import numpy as np
import pytensor.tensor as T
import convnet

events = []
jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))
x = T.fmatrix("x")
f = convnet.function([x], (T.tanh(x) * 3.0).sum(axis=1))
print(json.dumps({
    "out": f(np.ones((2, 3), dtype="float32")).tolist(),
    "dir": jax.config.jax_compilation_cache_dir,
    "hits": events.count("/jax/compilation_cache/cache_hits"),
}))
"""


def _run_cache_script(tmp_path, script=_CACHE_SCRIPT, args=(), **env):
    import json
    import os
    import subprocess
    import sys

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONVNET_")}
    full_env.update(env)
    full_env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), full_env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=full_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_reads_compiled_functions_from_the_cache(tmp_path):
    cache = tmp_path / "cache"
    first = _run_cache_script(tmp_path, CONVNET_CACHE_DIR=str(cache))
    assert first["dir"] == str(cache)
    assert first["hits"] == 0
    assert any(p.name.endswith("-cache") for p in cache.iterdir()), list(cache.iterdir())
    second = _run_cache_script(tmp_path, CONVNET_CACHE_DIR=str(cache))
    assert second["hits"] >= 1
    np.testing.assert_allclose(second["out"], first["out"])
    np.testing.assert_allclose(first["out"], 3 * np.tanh(1.0) * 3, rtol=1e-6)


def test_no_cache_when_switched_off(tmp_path):
    cache = tmp_path / "cache"
    out = _run_cache_script(tmp_path, CONVNET_CACHE_DIR=str(cache), CONVNET_NO_CACHE="1")
    assert out["dir"] is None
    assert not cache.exists()


_SWITCH_SCRIPT = r"""
import json, os, sys
import jax
import numpy as np
import pytensor.tensor as T
import convnet

a, b = sys.argv[1:]
x = T.fvector("x")
seen = []
switches = [{"CONVNET_CACHE_DIR": a}, {"CONVNET_CACHE_DIR": b}, {"CONVNET_NO_CACHE": "1"}]
for k, env in enumerate(switches + [{"CONVNET_CACHE_DIR": a}]):
    os.environ.pop("CONVNET_NO_CACHE", None)
    os.environ.update(env)
    f = convnet.function([x], T.tanh(x) * float(k + 1))  # a new program each time
    f(np.ones(2, dtype="float32"))
    seen.append(jax.config.jax_compilation_cache_dir)
print(json.dumps(seen))
"""


def test_cache_variables_are_read_at_each_build(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    seen = _run_cache_script(tmp_path, _SWITCH_SCRIPT, (str(a), str(b)))
    assert seen == [str(a), str(b), None, str(a)]
    for folder in (a, b):  # both received compiled programs
        assert any(p.name.endswith("-cache") for p in folder.iterdir()), list(folder.iterdir())


def test_mode_variable_is_read_at_each_build(monkeypatch):
    x = T.dvector("x")
    monkeypatch.setenv("CONVNET_MODE", "py")
    assert convnet.function([x], 2 * x).mode_name == "py"
    monkeypatch.setenv("CONVNET_MODE", "c")
    f = convnet.function([x], 2 * x)
    assert f.mode_name == "c" and type(f.maker.linker).__name__ == "VMLinker"


def test_default_cache_folder_follows_xdg(monkeypatch, tmp_path):
    from convnet.backend import compilation_cache_dir

    monkeypatch.delenv("CONVNET_CACHE_DIR", raising=False)
    monkeypatch.delenv("CONVNET_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compilation_cache_dir() == str(tmp_path / "convnet" / "jax")
    monkeypatch.setenv("CONVNET_NO_CACHE", "0")
    assert compilation_cache_dir() == str(tmp_path / "convnet" / "jax")
    monkeypatch.setenv("CONVNET_NO_CACHE", "yes")
    assert compilation_cache_dir() is None


# --------------------------------------------------------------------------------------------
# float32 data through float64 parameters
# --------------------------------------------------------------------------------------------


def _float64_dense_net():
    import pytensor

    with pytensor.config.change_flags(floatX="float64"):
        x = T.ftensor4("x")
        net = L.InputLayer((None, 1, 4, 4), x)
        net = L.DenseLayer(net, 3, name="dense")
    return x, net


def test_float32_inputs_through_float64_parameters_warn_once_naming_them(monkeypatch):
    import pytest

    from convnet import backend

    monkeypatch.setattr(backend, "_float64_warned", False)
    x, net = _float64_dense_net()
    with pytest.warns(
        backend.Float64UpcastWarning,
        match=r"2 float64 shared variable\(s\) "
        r"\(dense\.W, dense\.b\).*floatX = 'float32'",
    ):
        convnet.function([x], L.get_output(net), mode="py")
    # Once per process: a second function compiles silently (the suite turns warnings into
    # errors, so a second warning would fail here).
    convnet.function([x], L.get_output(net), mode="py")


def test_no_upcast_warning_for_float32_parameters(monkeypatch, floatX32):
    import warnings

    from convnet import backend

    monkeypatch.setattr(backend, "_float64_warned", False)
    x = T.ftensor4("x")
    net = L.DenseLayer(L.InputLayer((None, 1, 4, 4), x), 3, name="dense")
    with warnings.catch_warnings():
        warnings.simplefilter("error", backend.Float64UpcastWarning)
        convnet.function([x], L.get_output(net), mode="py")
    assert backend._float64_warned is False


def test_py_mode_runs_wide_elementwise_graphs():
    """The Python linker cannot run PyTensor's fused Composite ops of more than 31 inputs
    (NumPy's ufunc operand limit); mode "py" leaves elementwise graphs unfused."""
    xs = [T.dvector(f"x{i}") for i in range(40)]
    out = sum(T.exp(x) * (k + 1) for k, x in enumerate(xs))
    f = convnet.function(xs, out, mode="py")
    np.testing.assert_allclose(f(*[np.ones(3)] * 40), np.full(3, np.e * 820))
