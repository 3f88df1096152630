"""The Trainer: fit on arrays and iterables, evaluate/predict, regularisation, errors."""

import numpy as np
import pytest

from convnet.training import Callback, History, Trainer


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self):
        self.events.append(("train_begin",))

    def on_train_end(self):
        self.events.append(("train_end",))

    def on_epoch_begin(self, epoch):
        self.events.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs):
        self.events.append(("epoch_end", epoch, tuple(sorted(logs))))

    def on_batch_begin(self, batch):
        self.events.append(("batch_begin", batch))

    def on_batch_end(self, batch, logs):
        self.events.append(("batch_end", batch, tuple(sorted(logs)), logs["size"]))


def test_fit_learns_and_records_history(trainer, data):
    X, y, Xv, yv = data
    rec = Recorder()
    # the cached trainer may have run in an earlier test (order depends on pytest-xdist):
    # only the very first call of the training function reports its compile time
    first_call = not trainer._compiled.called
    h = trainer.fit(
        X,
        y,
        epochs=4,
        batch_size=16,
        validation_data=(Xv, yv),
        callbacks=[rec],
        seed=0,
        progress=False,
    )
    assert h is trainer.history and isinstance(h, History)
    assert h.epoch == [1, 2, 3, 4]
    assert set(h.history) == {"loss", "acc", "val_loss", "val_acc", "lr", "time"}
    assert h["loss"][-1] < h["loss"][0]
    assert h["val_acc"][-1] >= 0.9
    assert all(t > 0 for t in h["time"])
    assert h["lr"] == [pytest.approx(0.05)] * 4
    assert trainer.epoch == 4 and trainer.global_step == 24 and trainer.batch_in_epoch == 0
    # every hook, in order
    expected = [("train_begin",)]
    epoch_keys = ("acc", "loss", "lr", "time", "val_acc", "val_loss")
    for e in range(4):
        expected.append(("epoch_begin", e))
        for b in range(6):
            keys = ("acc", "loss", "size")
            if first_call and e == 0 and b == 0:
                keys = ("acc", "compile_time", "loss", "size")
            expected += [("batch_begin", b), ("batch_end", b, keys, 16)]
        expected.append(("epoch_end", e, epoch_keys))
    expected.append(("train_end",))
    assert rec.events == expected


def test_only_the_first_step_of_a_fresh_trainer_reports_compile_time(tinynet, data):
    X, y, _, _ = data
    trainer = tinynet.make_trainer(tinynet.build_net())
    rec = Recorder()
    trainer.fit(X, y, epochs=1, batch_size=32, callbacks=[rec], progress=False)
    trainer.fit(X, y, epochs=2, batch_size=32, callbacks=[rec], progress=False)
    with_compile = [ev for ev in rec.events if ev[0] == "batch_end" and "compile_time" in ev[2]]
    assert with_compile == [("batch_end", 0, ("acc", "compile_time", "loss", "size"), 32)]


def test_epochs_counts_from_the_trainers_position(trainer, data):
    X, y, _, _ = data
    trainer.fit(X, y, epochs=2, batch_size=32, seed=0, progress=False)
    trainer.fit(X, y, epochs=2, batch_size=32, progress=False)
    assert len(trainer.history) == 2 and trainer.global_step == 6
    trainer.fit(X, y, epochs=3, batch_size=32, progress=False)
    assert trainer.history.epoch == [1, 2, 3] and trainer.global_step == 9


def test_same_seed_same_run_and_shuffling_matters(trainer, trainers, data):
    X, y, _, _ = data
    trainer.fit(X, y, epochs=2, batch_size=16, seed=3, progress=False)
    first = trainer.get_param_values()
    again = trainers.get("main")
    again.fit(X, y, epochs=2, batch_size=16, seed=3, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(first, again.get_param_values()))
    other = trainers.get("main")
    other.fit(X, y, epochs=2, batch_size=16, seed=4, progress=False)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other.get_param_values()))


def test_iterables_and_callables_train_like_arrays(trainers, data):
    X, y, _, _ = data
    batches = [(X[i : i + 16], y[i : i + 16]) for i in range(0, 96, 16)]

    ref = trainers.get("main")
    ref.fit(X, y, epochs=2, batch_size=16, shuffle=False, progress=False)
    expected = ref.get_param_values()

    def check(source, **kw):
        t = trainers.get("main")
        t.fit(source, epochs=2, progress=False, **kw)
        got = t.get_param_values()
        assert all(np.array_equal(a, b) for a, b in zip(expected, got))
        assert t.global_step == 12

    check(batches)  # a list: iterated anew each epoch
    seen_rngs = []

    def factory(epoch, rng):
        seen_rngs.append(rng.integers(1 << 30))
        return iter(batches)

    check(factory, seed=1)
    assert len(seen_rngs) == 2 and seen_rngs[0] != seen_rngs[1]  # a new rng per epoch

    def endless():
        while True:
            yield from batches

    check(endless(), steps_per_epoch=6)


def test_one_shot_generator_without_steps_is_reported(trainer, data):
    X, y, _, _ = data
    gen = ((X[i : i + 16], y[i : i + 16]) for i in range(0, 96, 16))
    with pytest.raises(ValueError, match=r"epoch 2 had no batches.*one-shot generator"):
        trainer.fit(gen, epochs=2, progress=False)


def _forward(params, X):
    W1, b1, W2, b2 = params
    h = np.maximum(X.astype(np.float64) @ W1 + b1, 0)
    z = h @ W2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_predict_and_evaluate_against_numpy(trainers, data):
    X, y, Xv, yv = data
    t = trainers.get("plain", net={"dropout": False, "batchnorm": False})
    t.fit(X, y, epochs=2, batch_size=16, seed=0, progress=False)
    params = [v.astype(np.float64) for v in t.get_param_values()]
    ref = _forward(params, Xv)
    proba = t.predict_proba(Xv, batch_size=7)  # uneven batches
    np.testing.assert_allclose(proba, ref, rtol=2e-5, atol=1e-6)
    np.testing.assert_array_equal(t.predict(Xv), ref.argmax(axis=1))
    result = t.evaluate(Xv, yv, batch_size=5)
    ref_loss = -np.log(ref[np.arange(len(yv)), yv]).mean()
    assert result["loss"] == pytest.approx(ref_loss, rel=1e-5)
    assert result["acc"] == pytest.approx((ref.argmax(1) == yv).mean())
    # iterables of batches give the same
    batches = [(Xv[i : i + 10], yv[i : i + 10]) for i in range(0, 32, 10)]
    assert t.evaluate(batches) == pytest.approx(result)
    np.testing.assert_allclose(
        t.predict_proba([b[0] for b in batches]), proba, rtol=1e-5, atol=1e-8
    )


def test_deterministic_outputs_switch_off_dropout(trainer, data):
    X, y, Xv, _ = data
    trainer.fit(X, y, epochs=1, batch_size=16, seed=0, progress=False)
    a = trainer.predict_proba(Xv)
    b = trainer.predict_proba(Xv)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (32, 3)
    np.testing.assert_allclose(a.sum(axis=1), 1, rtol=1e-5)


def test_l2_regularization_adds_its_gradient(tinynet, data):
    """One SGD step with l2=c differs from one without by -lr * 2c * W on regularizable
    parameters (W), and not at all on the others (b)."""
    X, y, _, _ = data
    c, lr = 0.1, 0.5
    runs = []
    for reg in (None, {"l2": c}):
        net = tinynet.build_net(dropout=False, batchnorm=False)
        t = tinynet.make_trainer(net, update=tinynet.sgd, learning_rate=lr, regularization=reg)
        start = t.get_param_values()
        t.fit(X[:16], y[:16], epochs=1, batch_size=16, shuffle=False, progress=False)
        runs.append((start, t.get_param_values(), t.history["loss"][0]))
    (s0, p0, loss0), (s1, p1, loss1) = runs
    assert all(np.array_equal(a, b) for a, b in zip(s0, s1))
    W1, b1, W2, b2 = s0
    expected_shift = [-lr * 2 * c * W1, 0 * b1, -lr * 2 * c * W2, 0 * b2]
    for a, b, shift in zip(p0, p1, expected_shift):
        np.testing.assert_allclose(b - a, shift, rtol=1e-4, atol=1e-7)
    assert loss0 == pytest.approx(loss1)  # the reported loss excludes the penalty


def test_learning_rate_property_and_dtype(trainer):
    trainer.learning_rate = 0.125
    assert trainer.learning_rate == 0.125
    assert trainer.learning_rate_var.dtype == trainer.trainable_params[0].dtype
    assert "learning_rate=0.125" in repr(trainer)


def test_a_trainer_on_one_device_given_as_devices_trains_like_the_default(trainer, tinynet, data):
    # The data-parallel functions on a mesh of one device (tests/parallel: several devices).
    X, y, Xv, yv = data
    runs = []
    for t in (trainer, tinynet.make_trainer(devices=1)):
        start = t.get_param_values()
        t.fit(X[:90], y[:90], epochs=2, batch_size=16, seed=0, progress=False)
        assert t.steps_per_epoch == 6  # the last batch: 10 samples
        runs.append((start, t.get_param_values(), t.evaluate(Xv, yv), t.predict_proba(Xv)))
    (s0, p0, e0, out0), (s1, p1, e1, out1) = runs
    assert (trainer.n_devices, trainer.devices) == (1, None)
    for a, b, c, d in zip(s0, s1, p0, p1, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(c, d, rtol=1e-5, atol=1e-6)
    assert not np.allclose(s0[0], p0[0])
    assert e1 == pytest.approx(e0, rel=1e-5)
    np.testing.assert_allclose(out1, out0, rtol=1e-5, atol=1e-6)


def test_checks_arguments(tinynet, trainer, data):
    X, y, _, _ = data
    net = tinynet.build_net()
    with pytest.raises(ValueError, match="expected loss to be one of categorical_crossentropy"):
        Trainer(net, loss="hinge", update=tinynet.sgd, learning_rate=0.1)
    with pytest.raises(ValueError, match="convnet.updates has no update rule 'nope'"):
        Trainer(net, update="nope")
    with pytest.raises(ValueError, match="update rule sgd has no default learning_rate"):
        Trainer(net, update=tinynet.sgd)
    with pytest.raises(ValueError, match=r"regularization keys 'l1' and/or 'l2'.*\['l3'\]"):
        Trainer(net, update=tinynet.sgd, learning_rate=0.1, regularization={"l3": 1.0})
    with pytest.raises(ValueError, match="pass the learning rate as learning_rate="):
        Trainer(net, update=tinynet.sgd, update_kwargs={"learning_rate": 0.1})
    with pytest.raises(
        ValueError, match="expected batch_norm 'sync' or 'per_device', received 'x'"
    ):
        Trainer(net, update=tinynet.sgd, learning_rate=0.1, batch_norm="x")
    with pytest.raises(ValueError, match=r"Trainer\(devices=\.\.\.\): expected an int, 'all' or"):
        Trainer(net, update=tinynet.sgd, learning_rate=0.1, devices="gpus")
    with pytest.raises(ValueError, match="exactly one InputLayer, found 2"):
        Trainer([net, tinynet.build_net(name_prefix="b")], update=tinynet.sgd, learning_rate=1)
    with pytest.raises(
        ValueError,
        match=r"same length, received X of shape \(96, 6\) and y "
        r"of shape \(95,\)",
    ):
        trainer.fit(X, y[:-1], progress=False)
    with pytest.raises(ValueError, match="X is an array, so y .* is required"):
        trainer.fit(X, progress=False)
    with pytest.raises(ValueError, match="expected epochs >= 0 and batch_size >= 1"):
        trainer.fit(X, y, batch_size=0, progress=False)
    # (were ZeroDivisionError and range()'s ValueError)
    with pytest.raises(ValueError, match=r"Trainer\.evaluate: batch_size: expected an int >= 1"):
        trainer.evaluate(X, y, batch_size=0)
    with pytest.raises(
        ValueError, match=r"Trainer\.predict_proba: batch_size: expected an int >= 1"
    ):
        trainer.predict(X, batch_size=0)
    with pytest.raises(
        TypeError,
        match="expected callbacks to be Callback instances, received builtin_function_or_method",
    ):
        trainer.fit(X, y, callbacks=[print], progress=False)
    with pytest.raises(
        TypeError,
        match=r"fit\(validation_data=\.\.\.\): expected arrays or an "
        r"iterable .* received a callable",
    ):
        trainer.fit(X, y, validation_data=lambda e, r: [], progress=False)
    with pytest.raises(ValueError, match="nothing to save yet"):
        tinynet.make_trainer(tinynet.build_net()).state_dict()


def _packed_state(trainer):
    from convnet.training.checkpoint import pack

    arrays = []
    doc = pack(trainer.state_dict(), arrays)
    return doc, arrays, trainer.get_param_values()


class StopInEpoch2(Callback):
    def on_batch_end(self, batch, logs):
        if self.trainer.epoch == 1 and batch == 2:
            self.trainer.stop_training = True


def test_a_cached_trainer_comes_back_as_compiled(trainers, tinynet, data, tmp_path):
    """Tests share compiled trainers (conftest.TrainerCache); whatever one test did to a
    trainer -- callbacks with state, a schedule, a stop in the middle of an epoch, a
    checkpoint loaded -- the next one gets it as it was after compiling, so that no test
    depends on the order the tests run in."""
    from convnet.training import EarlyStopping, ModelCheckpoint, StepDecay

    X, y, Xv, yv = data
    t = trainers.get("main")
    doc0, arrays0, params0 = _packed_state(t)
    callbacks = [
        StepDecay(step_size=1, gamma=0.5),
        EarlyStopping(patience=5),
        ModelCheckpoint(tmp_path / "ck.h5", every_n_batches=4),
        StopInEpoch2(),
    ]
    t.fit(X, y, epochs=3, batch_size=16, validation_data=(Xv, yv), callbacks=callbacks,
          seed=5, progress=False)  # fmt: skip
    t.load_checkpoint(tmp_path / "ck.h5")
    assert t.epoch_sums is not None and t.learning_rate != 0.05
    history = t.history

    t = trainers.get("main")
    doc, arrays, params = _packed_state(t)
    assert doc == doc0 and all(np.array_equal(a, b) for a, b in zip(arrays, arrays0))
    assert all(np.array_equal(a, b) for a, b in zip(params, params0))
    assert t.epoch_sums is None and len(t.history) == 0 and t.history is not history
    # and it trains as a trainer never used before
    t.fit(X, y, epochs=2, batch_size=16, seed=3, progress=False)
    fresh = tinynet.make_trainer()
    fresh.fit(X, y, epochs=2, batch_size=16, seed=3, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(t.get_param_values(), fresh.get_param_values()))
    assert t.history["loss"] == fresh.history["loss"]


def test_a_cache_key_keeps_its_configuration(trainers):
    trainers.get("plain", net={"dropout": False, "batchnorm": False})
    with pytest.raises(ValueError, match="'plain' was made with"):
        trainers.get("plain", net={"dropout": True})


def test_an_augmented_iterator_trains_on_its_epochs_from_0(tinynet, data):
    """fit takes no hidden pass over a re-iterable: peeking at the first batch (to type
    the targets) starts the first epoch, and telling a stream from a re-iterable does not
    call iter() (which starts an AugmentedIterator's next epoch)."""
    from convnet.augmentation import AugmentedIterator, RandomFlip

    X, y, _, _ = data
    X4 = X.reshape(96, 1, 2, 3)

    def flatten(batches):
        return ((xb.reshape(len(xb), 6), yb) for xb, yb in batches)

    class Flat:  # a re-iterable over an AugmentedIterator's epochs
        def __init__(self, it):
            self.it = it

        def __len__(self):
            return len(self.it)

        def __iter__(self):
            return flatten(iter(self.it))

    it = AugmentedIterator(X4, y, 16, augment=RandomFlip(), seed=3, workers=0)
    t = tinynet.make_trainer()  # a fresh trainer peeks
    t.fit(Flat(it), epochs=2, progress=False)
    assert it.epoch == 2
    again = AugmentedIterator(X4, y, 16, augment=RandomFlip(), seed=3, workers=0)
    ref = tinynet.make_trainer()
    ref.fit(lambda epoch, rng: flatten(again.iter_epoch(epoch)), epochs=2, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(t.get_param_values(), ref.get_param_values()))
