"""Tests of convnet.augmentation: known answers, reproducibility, draw statistics, iterators."""

import subprocess
import sys
import textwrap
import threading
import traceback

import numpy as np
import pytest
import scipy.stats

from convnet.augmentation import (
    AffineAugmentation,
    Augmentation,
    AugmentedIterator,
    Compose,
    RandomCrop,
    RandomFlip,
    affine_warp,
    flip_matrix,
    iterate_minibatches,
    rotation_matrix,
    scale_matrix,
    shear_matrix,
    translation_matrix,
)

IDENTITY = dict(rotation=None, translation=None, scale=None, flip=0.0, shear=None, stretch=None)


def random_batch(n=6, c=3, h=12, w=10, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, 256, (n, c, h, w)).astype(dtype)
    return rng.random((n, c, h, w)).astype(dtype)


def dot_image(h, w, row, col):
    X = np.zeros((1, 1, h, w), np.float64)
    X[0, 0, row, col] = 1.0
    return X


def centroid(image):
    rows, cols = np.indices(image.shape)
    total = image.sum()
    return (cols * image).sum() / total, (rows * image).sum() / total  # (x, y)


# ---------------------------------------------------------------------------------------------
# flips and crops
# ---------------------------------------------------------------------------------------------


def test_flip_flips():
    X = random_batch()
    np.testing.assert_array_equal(RandomFlip(p=1.0)(X), X[..., ::-1])
    np.testing.assert_array_equal(
        RandomFlip(horizontal=False, vertical=True, p=1.0)(X), X[:, :, ::-1]
    )
    np.testing.assert_array_equal(RandomFlip(p=0.0)(X), X)


def test_flip_is_per_image_with_probability_p():
    X = random_batch(n=4000, c=1, h=1, w=2)
    out = RandomFlip(p=0.3, seed=1)(X)
    flipped = np.all(out == X[..., ::-1], axis=(1, 2, 3))
    kept = np.all(out == X, axis=(1, 2, 3))
    assert np.all(flipped | kept)
    assert abs(flipped.mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 4000)


def test_crop_takes_a_window_of_the_padded_image():
    X = random_batch(n=300, c=2, h=8, w=6, dtype=np.uint8)
    out = RandomCrop((8, 6), padding=(2, 1), seed=0)(X)
    assert out.shape == X.shape and out.dtype == np.uint8
    padded = np.pad(X, ((0, 0), (0, 0), (2, 2), (1, 1)))
    offsets = set()
    for n in range(len(X)):
        matches = [
            (top, left)
            for top in range(5)
            for left in range(3)
            if np.array_equal(out[n], padded[n, :, top : top + 8, left : left + 6])
        ]
        assert matches, f"image {n} is no window of its padded input"
        offsets.update(matches)
    assert len(offsets) == 15  # every position is drawn


def test_crop_cifar_recipe_shifts_by_at_most_four_pixels():
    X = random_batch(n=50, c=3, h=32, w=32) + 1.0  # no zeros inside the image
    out = RandomCrop(32, padding=4, seed=3)(X)
    assert out.shape == (50, 3, 32, 32)
    zero_rows = np.all(out[:, 0] == 0, axis=2).sum(axis=1)
    zero_cols = np.all(out[:, 0] == 0, axis=1).sum(axis=1)
    assert zero_rows.max() <= 4 and zero_cols.max() <= 4 and zero_rows.max() > 0


def test_crop_without_padding_to_full_size_is_identity_and_modes_fill():
    X = random_batch()
    np.testing.assert_array_equal(RandomCrop((12, 10))(X), X)
    out = RandomCrop((14, 10), padding=(1, 0), mode="edge", seed=0)(X)
    np.testing.assert_array_equal(out, np.pad(X, ((0, 0), (0, 0), (1, 1), (0, 0)), mode="edge"))
    out = RandomCrop((14, 10), padding=(1, 0), cval=7, seed=0)(X)
    assert np.all(out[:, :, 0] == 7)


# ---------------------------------------------------------------------------------------------
# affine: known answers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
@pytest.mark.parametrize("order", [0, 1, 3])
def test_identity_config_returns_the_input(dtype, order):
    X = random_batch(dtype=dtype)
    out = AffineAugmentation(**IDENTITY, order=order, seed=0)(X)
    assert out.dtype == X.dtype
    np.testing.assert_allclose(out, X, atol=1e-5 if dtype != np.uint8 else 0)


def test_pure_translation_moves_a_dot_by_the_drawn_amount():
    aug = AffineAugmentation(**{**IDENTITY, "translation": (-3.0, 3.0)})
    X = dot_image(15, 13, row=7, col=5)
    for seed in range(5):
        params = aug.draw(1, np.random.default_rng(seed))
        out = aug(X, rng=np.random.default_rng(seed))[0, 0]
        np.testing.assert_allclose(out.sum(), 1.0, rtol=1e-12)
        x, y = centroid(out)
        np.testing.assert_allclose([x, y], [5 + params["tx"][0], 7 + params["ty"][0]], atol=1e-12)


def test_integer_translation_is_an_exact_shift():
    X = random_batch(n=1)
    out = affine_warp(X, translation_matrix(2, 1))
    np.testing.assert_array_equal(out[:, :, 1:, 2:], X[:, :, :-1, :-2])
    assert np.all(out[:, :, 0] == 0) and np.all(out[:, :, :, :2] == 0)


def test_rotation_by_90_degrees_moves_right_to_up():
    # 9x9 image, centre (4, 4); a dot three pixels right of the centre ends up three above it
    aug = AffineAugmentation(**{**IDENTITY, "rotation": (90.0, 90.0)})
    out = aug(dot_image(9, 9, row=4, col=7), rng=0)[0, 0]
    assert out[1, 4] == pytest.approx(1.0) and out.sum() == pytest.approx(1.0)
    image = np.arange(81.0).reshape(9, 9)
    np.testing.assert_allclose(aug(image[None, None], rng=0)[0, 0], np.rot90(image), atol=1e-9)


def test_scale_and_stretch_move_a_dot_away_from_the_centre():
    # scale 1.5, stretch 2: x scaled by 3, y by 0.75 about the centre (10, 10)
    aug = AffineAugmentation(**{**IDENTITY, "scale": (1.5, 1.5), "stretch": (2.0, 2.0)})
    out = aug(dot_image(21, 21, row=14, col=12), rng=0)[0, 0]
    np.testing.assert_allclose(centroid(out), (10 + 3 * 2, 10 + 0.75 * 4), atol=1e-9)


def test_affine_flip_equals_mirror_and_shear_shifts_rows():
    X = random_batch()
    out = AffineAugmentation(**{**IDENTITY, "flip": 1.0})(X)
    np.testing.assert_allclose(out, X[..., ::-1], atol=1e-6)
    # shear 45 degrees: the row one below the centre moves one pixel right
    aug = AffineAugmentation(**{**IDENTITY, "shear": (45.0, 45.0)})
    out = aug(dot_image(9, 9, row=5, col=4), rng=0)[0, 0]
    assert out[5, 5] == pytest.approx(1.0)


def test_composed_matrix_equals_product_of_the_individual_transforms():
    aug = AffineAugmentation(output_shape=(20, 24))
    params = aug.draw(7, np.random.default_rng(3))
    matrices = aug.matrices(params, (16, 18))
    for i in range(7):
        sx = params["scale"][i] * params["stretch"][i]
        sy = params["scale"][i] / params["stretch"][i]
        expected = (
            translation_matrix(11.5 + params["tx"][i], 9.5 + params["ty"][i])
            @ rotation_matrix(params["rotation"][i])
            @ shear_matrix(params["shear"][i])
            @ scale_matrix(sx, sy)
            @ flip_matrix(params["flip"][i])
            @ translation_matrix(-8.5, -7.5)
        )
        np.testing.assert_allclose(matrices[i], expected, atol=1e-12)


def test_individual_matrices_have_the_documented_entries():
    c, s = np.cos(np.deg2rad(30)), np.sin(np.deg2rad(30))
    np.testing.assert_allclose(rotation_matrix(30)[:2, :2], [[c, s], [-s, c]])
    np.testing.assert_allclose(shear_matrix(30)[0, 1], np.tan(np.deg2rad(30)))
    np.testing.assert_allclose(rotation_matrix([0, 90, 180]).shape, (3, 3, 3))
    np.testing.assert_allclose(np.linalg.det(rotation_matrix(np.arange(0, 360, 7.0))), 1.0)


def bilinear_reference(image, matrix, out_shape, cval=0.0):
    """Loop-based bilinear warp of an image surrounded by cval (scipy's 'grid-constant')."""
    inverse = np.linalg.inv(matrix)
    h, w = image.shape
    padded = np.full((h + 2, w + 2), cval, np.float64)
    padded[1:-1, 1:-1] = image
    out = np.full(out_shape, cval, np.float64)
    for row in range(out_shape[0]):
        for col in range(out_shape[1]):
            x, y, _ = inverse @ [col, row, 1.0]
            if -1.0 < x < w and -1.0 < y < h:
                x0, y0 = int(np.floor(x)), int(np.floor(y))
                fx, fy = x - x0, y - y0
                p = padded[y0 + 1 : y0 + 3, x0 + 1 : x0 + 3]
                top = p[0, 0] * (1 - fx) + p[0, 1] * fx
                bottom = p[1, 0] * (1 - fx) + p[1, 1] * fx
                out[row, col] = top * (1 - fy) + bottom * fy
    return out


def test_warp_matches_loop_based_bilinear_reference():
    X = random_batch(n=3, c=2, h=11, w=9, dtype=np.float64)
    aug = AffineAugmentation(translation=(-2, 2), output_shape=(10, 12), cval=-1.0)
    out = aug(X, rng=np.random.default_rng(5))
    matrices = aug.matrices(aug.draw(3, np.random.default_rng(5)), (11, 9))
    for n in range(3):
        for c in range(2):
            expected = bilinear_reference(X[n, c], matrices[n], (10, 12), cval=-1.0)
            assert np.sum(expected != -1.0) > 30
            np.testing.assert_allclose(out[n, c], expected, atol=1e-10)


def test_constant_mode_does_not_interpolate_across_the_border():
    X = np.ones((1, 1, 4, 4))
    shift = translation_matrix(0.5, 0.0)
    hard = affine_warp(X, shift, mode="constant")[0, 0]
    soft = affine_warp(X, shift, mode="grid-constant")[0, 0]
    np.testing.assert_allclose(hard[:, 0], 0.0)
    np.testing.assert_allclose(soft[:, 0], 0.5)
    np.testing.assert_allclose(hard[:, 1:], 1.0)


@pytest.mark.parametrize("mode", ["grid-constant", "constant", "nearest"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_bilinear_kernel_equals_scipy(mode, dtype):
    X = random_batch(n=24, c=2, h=9, w=11, dtype=dtype)
    aug = AffineAugmentation(translation=(-4, 4))
    matrices = aug.matrices(aug.draw(24, np.random.default_rng(1)), (9, 11), (10, 8))
    # exact grid positions hit the borders: integer shifts, quarter turns, flips
    matrices[:4] = translation_matrix([0, 2, -3, 10], [0, -1, 8, 0])
    matrices[4:8] = (
        translation_matrix(3.5, 4.5)
        @ rotation_matrix([90, 180, 270, 0])
        @ flip_matrix(1)
        @ translation_matrix(-5.0, -4.0)
    )
    kwargs = dict(output_shape=(10, 8), mode=mode, cval=-0.5)
    fast = affine_warp(X, matrices, engine="numba", **kwargs)
    reference = affine_warp(X, matrices, engine="scipy", **kwargs)
    assert fast.dtype == reference.dtype == dtype
    np.testing.assert_allclose(fast, reference, rtol=0, atol=1e-6 if dtype == np.float32 else 1e-12)


def test_integer_images_are_rounded_and_clipped():
    X = np.full((1, 1, 4, 4), 250, np.uint8)
    X[0, 0, :, 2:] = 10
    out = affine_warp(X, translation_matrix(0.5, 0.0), order=3)
    assert out.dtype == np.uint8
    reference = affine_warp(X.astype(np.float32), translation_matrix(0.5, 0.0), order=3)
    np.testing.assert_array_equal(out, np.clip(np.rint(reference), 0, 255))


# ---------------------------------------------------------------------------------------------
# reproducibility and draw statistics
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: AffineAugmentation(seed=seed),
        lambda seed: RandomCrop(12, padding=3, seed=seed),
        lambda seed: RandomFlip(seed=seed),
        lambda seed: Compose([RandomCrop(12, padding=2), AffineAugmentation()], seed=seed),
    ],
    ids=["affine", "crop", "flip", "compose"],
)
def test_same_seed_same_output(make):
    X = random_batch(n=16, h=12, w=12)
    a, b, c = make(7), make(7), make(8)
    first = a(X)
    np.testing.assert_array_equal(first, b(X))
    np.testing.assert_array_equal(a(X), b(X))  # the generators advance in step
    assert not np.array_equal(first, c(X))
    np.testing.assert_array_equal(make(None)(X, rng=3), make(99)(X, rng=np.random.default_rng(3)))


def test_compose_applies_steps_in_order_with_a_shared_generator():
    X = random_batch(n=5, h=12, w=12)
    crop, affine = RandomCrop(10, padding=1), AffineAugmentation()
    composed = Compose([crop, affine, lambda batch: batch * 2.0])
    rng1, rng2 = np.random.default_rng(4), np.random.default_rng(4)
    expected = affine(crop(X, rng=rng2), rng=rng2) * 2.0
    np.testing.assert_array_equal(composed(X, rng=rng1), expected)


def test_draw_statistics():
    aug = AffineAugmentation()
    params = aug.draw(20000, np.random.default_rng(0))
    # log-uniform scale and stretch: log of the draw is uniform on [log low, log high]
    for key, high in (("scale", 1.6), ("stretch", 1.3)):
        logs = np.log(params[key])
        assert logs.min() >= -np.log(high) and logs.max() <= np.log(high)
        ks = scipy.stats.kstest(logs, scipy.stats.uniform(-np.log(high), 2 * np.log(high)).cdf)
        assert ks.pvalue > 1e-3, key
        # not uniform in the factor itself: the median is 1, not the mean of the range
        assert abs(np.median(params[key]) - 1.0) < 0.01
    for key, (low, high) in (
        ("rotation", (0, 360)),
        ("tx", (-10, 10)),
        ("ty", (-10, 10)),
        ("shear", (-20, 20)),
    ):
        ks = scipy.stats.kstest(params[key], scipy.stats.uniform(low, high - low).cdf)
        assert ks.pvalue > 1e-3, key
    assert abs(params["flip"].mean() - 0.5) < 4 * np.sqrt(0.25 / 20000)
    assert abs(np.corrcoef(params["tx"], params["ty"])[0, 1]) < 0.03


# ---------------------------------------------------------------------------------------------
# bad arguments
# ---------------------------------------------------------------------------------------------


def test_bad_arguments():
    with pytest.raises(
        ValueError,
        match=r"AffineAugmentation: scale: expected a pair "
        r"\(low, high\) of finite numbers with 0 < low <= high, or None, "
        r"received \(2, 1\)",
    ):
        AffineAugmentation(scale=(2, 1))
    with pytest.raises(ValueError, match=r"AffineAugmentation: stretch: .* received \(0, 1.3\)"):
        AffineAugmentation(stretch=(0, 1.3))
    with pytest.raises(
        TypeError,
        match=r"AffineAugmentation: rotation: expected a pair "
        r".* received 30",
    ):
        AffineAugmentation(rotation=30)
    with pytest.raises(
        ValueError,
        match=r"AffineAugmentation: shear: expected angles "
        r"strictly between -90 and 90 degrees, received \(-90, 0\)",
    ):
        AffineAugmentation(shear=(-90, 0))
    with pytest.raises(
        ValueError,
        match=r"AffineAugmentation: flip: expected a "
        r"probability in \[0, 1\], received 2",
    ):
        AffineAugmentation(flip=2)
    with pytest.raises(
        ValueError,
        match=r"AffineAugmentation: mode: expected one of "
        r"'constant', .* received 'zero'",
    ):
        AffineAugmentation(mode="zero")
    with pytest.raises(
        ValueError,
        match=r"AffineAugmentation: order: expected an int "
        r"0..5, received 6",
    ):
        AffineAugmentation(order=6)
    with pytest.raises(
        ValueError,
        match=r"RandomCrop: padding: expected an int >= 0 "
        r"or a pair of them, received -1",
    ):
        RandomCrop(32, padding=-1)
    with pytest.raises(
        ValueError,
        match=r"RandomCrop: crop size \(40, 40\) does not fit images "
        r"of shape \(32, 32\) padded by \(2, 2\) to \(36, 36\)",
    ):
        RandomCrop(40, padding=2)(np.zeros((1, 3, 32, 32)))
    with pytest.raises(ValueError, match=r"RandomFlip: p: expected a probability"):
        RandomFlip(p=-0.1)
    with pytest.raises(
        TypeError,
        match=r"Compose: steps: expected augmentations or "
        r"callables, received int at position 1",
    ):
        Compose([RandomFlip(), 3])


def test_bad_inputs():
    with pytest.raises(
        ValueError,
        match=r"AffineAugmentation: expected a batch of shape "
        r"\(N, C, H, W\), received shape \(2, 28, 28\). Add a channel axis",
    ):
        AffineAugmentation()(np.zeros((2, 28, 28)))
    with pytest.raises(
        TypeError,
        match=r"RandomFlip: expected a real numeric image batch .* "
        r"received dtype bool",
    ):
        RandomFlip()(np.zeros((1, 1, 2, 2), bool))
    with pytest.raises(
        TypeError,
        match=r"RandomFlip: rng: expected a "
        r"numpy.random.Generator, an int seed or None, received str",
    ):
        RandomFlip()(np.zeros((1, 1, 2, 2)), rng="x")
    with pytest.raises(
        ValueError,
        match=r"affine_warp: matrices: expected shape "
        r"\(2, 3, 3\) or \(3, 3\) for a batch of 2 images, received shape "
        r"\(3, 3, 3\)",
    ):
        affine_warp(np.zeros((2, 1, 4, 4)), np.stack([np.eye(3)] * 3))
    with pytest.raises(
        ValueError,
        match=r"affine_warp: engine='numba' supports order=1 with mode "
        r"'grid-constant', 'constant', 'nearest', received order=3, mode='constant'; "
        r"use engine='scipy' or 'auto'",
    ):
        affine_warp(np.zeros((1, 1, 4, 4)), np.eye(3), order=3, mode="constant", engine="numba")
    with pytest.raises(
        ValueError,
        match=r"AffineAugmentation: engine='numba' supports order=1 "
        r"with mode .* received order=1, mode='wrap'",
    ):
        AffineAugmentation(mode="wrap", engine="numba")
    with pytest.raises(
        ValueError,
        match=r"affine_warp: engine: expected one of 'auto', "
        r"'numba', 'scipy', received 'gpu'",
    ):
        affine_warp(np.zeros((1, 1, 4, 4)), np.eye(3), engine="gpu")
    for order in (True, 1.0):  # a bool is no spline order
        with pytest.raises(ValueError, match=r"order: expected an int 0..5, received"):
            AffineAugmentation(order=order)
        with pytest.raises(ValueError, match=r"affine_warp: order: expected an int 0..5"):
            affine_warp(np.zeros((1, 1, 4, 4)), np.eye(3), order=order)
    with pytest.raises(NotImplementedError, match=r"Augmentation must implement augment"):
        Augmentation()(np.zeros((1, 1, 2, 2)))


# ---------------------------------------------------------------------------------------------
# iterate_minibatches
# ---------------------------------------------------------------------------------------------


def test_iterate_minibatches_lasagne_semantics():
    X, y = np.arange(23).reshape(23, 1) * 10, np.arange(23)
    batches = list(iterate_minibatches(X, y, 5))
    assert [b[1].tolist() for b in batches] == [list(range(i, i + 5)) for i in range(0, 20, 5)]
    np.testing.assert_array_equal(batches[1][0][:, 0], y[5:10] * 10)
    shuffled = list(iterate_minibatches(X, y, 5, shuffle=True, seed=1))
    seen = np.concatenate([b[1] for b in shuffled])
    assert len(seen) == 20 and len(set(seen.tolist())) == 20
    assert seen.tolist() != list(range(20))
    np.testing.assert_array_equal(seen, np.random.default_rng(1).permutation(23)[:20])
    for Xb, yb in shuffled:
        np.testing.assert_array_equal(Xb[:, 0], yb * 10)


def test_iterate_minibatches_errors_are_raised_at_call():
    with pytest.raises(
        ValueError,
        match=r"iterate_minibatches: inputs and targets must have the "
        r"same length, received 4 inputs and 3 targets",
    ):
        iterate_minibatches(np.zeros(4), np.zeros(3), 2)
    with pytest.raises(
        ValueError,
        match=r"iterate_minibatches: batchsize: expected a "
        r"positive int, received 0",
    ):
        iterate_minibatches(np.zeros(4), np.zeros(4), 0)


# ---------------------------------------------------------------------------------------------
# AugmentedIterator
# ---------------------------------------------------------------------------------------------


def iterator_data(n=40):
    return random_batch(n=n, c=1, h=8, w=8, seed=2), np.arange(n)


def collect(iterable):
    return [(Xb.copy(), yb.copy()) for Xb, yb in iterable]


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for (Xa, ya), (Xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(Xa, Xb)


def test_augmented_iterator_is_deterministic_whatever_the_workers():
    X, y = iterator_data()
    aug = Compose([RandomCrop(8, padding=2), AffineAugmentation(translation=(-2, 2))])
    reference = collect(AugmentedIterator(X, y, 6, augment=aug, seed=11, workers=0))
    assert len(reference) == 6
    for workers, prefetch in ((1, 1), (3, 2), (4, 8)):
        it = AugmentedIterator(X, y, 6, augment=aug, seed=11, workers=workers, prefetch=prefetch)
        assert_same_batches(collect(it), reference)
    # the batch itself: samples of the epoch's permutation, augmented with the batch's generator
    it = AugmentedIterator(X, y, 6, augment=aug, seed=11)
    order = it.order(0)
    np.testing.assert_array_equal(reference[2][1], order[12:18])
    rng = np.random.default_rng(np.random.SeedSequence(11, spawn_key=(0, 3)))
    np.testing.assert_array_equal(reference[2][0], aug(X[order[12:18]], rng=rng))


def test_augmented_iterator_epochs_differ_and_cover_the_data():
    X, y = iterator_data()
    it = AugmentedIterator(X, y, 8, augment=RandomFlip(), seed=0, drop_last=False, workers=2)
    first, second = collect(it), collect(it)
    assert it.epoch == 2
    for epoch in (first, second):
        assert sorted(np.concatenate([b[1] for b in epoch]).tolist()) == list(range(40))
    assert not np.array_equal(first[0][1], second[0][1])
    assert_same_batches(collect(it.iter_epoch(1)), second)
    unshuffled = collect(AugmentedIterator(X, y, 16, shuffle=False, drop_last=False))
    assert [len(b[1]) for b in unshuffled] == [16, 16, 8]
    np.testing.assert_array_equal(unshuffled[2][0], X[32:])
    assert len(AugmentedIterator(X, y, 16)) == 2


def failing_augment(batch):
    if batch.mean() < 0:  # the marked batch below
        raise ArithmeticError("augmentation failed on purpose")
    return batch


@pytest.mark.parametrize("workers", [0, 2])
def test_worker_exceptions_reach_the_consumer_with_traceback(workers):
    X, y = iterator_data()
    X[24:32] = -1.0  # batch 3 without shuffling
    it = AugmentedIterator(X, y, 8, augment=failing_augment, shuffle=False, workers=workers)
    received = []
    with pytest.raises(ArithmeticError, match="augmentation failed on purpose") as info:
        for _, yb in it:
            received.append(yb)
    assert len(received) == 3
    text = "".join(traceback.format_exception(info.value))
    assert "failing_augment" in text
    if workers:
        assert "batch 3 of epoch 0" in text
        assert not [t for t in threading.enumerate() if t.name.startswith("AugmentedIterator")]


def test_early_stop_shuts_the_workers_down():
    X, y = iterator_data(200)
    it = AugmentedIterator(X, y, 4, augment=AffineAugmentation(), seed=0, workers=2, prefetch=4)
    before = threading.active_count()
    for i, _ in enumerate(it):
        if i == 1:
            assert threading.active_count() > before
            break
    assert not [t for t in threading.enumerate() if t.name.startswith("AugmentedIterator")]
    epoch = iter(it)
    next(epoch)
    epoch.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("AugmentedIterator")]


@pytest.mark.parametrize("backend", ["thread", pytest.param("process", marks=pytest.mark.slow)])
def test_interpreter_exits_with_an_unfinished_epoch(backend):
    script = textwrap.dedent(
        """
        import numpy as np
        from convnet.augmentation import AugmentedIterator, RandomFlip
        X = np.zeros((400, 1, 16, 16), np.float32)
        it = AugmentedIterator(X, np.zeros(400), 4, augment=RandomFlip(), workers=2,
                               prefetch=8, backend=BACKEND)
        epoch = iter(it)
        next(epoch)
        print("done")
        """
    )
    code = script.replace("BACKEND", repr(backend))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"


@pytest.mark.slow  # spawned workers import convnet (and PyTensor): seconds per epoch
def test_process_backend_matches_threads_and_propagates_errors():
    X, y = iterator_data(24)
    aug = AffineAugmentation(translation=(-2, 2))
    threads = collect(AugmentedIterator(X, y, 6, augment=aug, seed=5, workers=2))
    processes = collect(
        AugmentedIterator(X, y, 6, augment=aug, seed=5, workers=2, backend="process")
    )
    assert_same_batches(processes, threads)
    X[:6] = -1.0
    it = AugmentedIterator(X, y, 6, augment=failing_augment, shuffle=False, backend="process")
    with pytest.raises(ArithmeticError, match="augmentation failed on purpose") as info:
        list(it)
    text = "".join(traceback.format_exception(info.value))
    assert "failing_augment" in text and "batch 0 of epoch 0" in text


def test_augmented_iterator_bad_arguments():
    X, y = iterator_data()
    with pytest.raises(
        ValueError,
        match=r"AugmentedIterator: inputs and targets must have the "
        r"same length, received 40 inputs and 39 targets",
    ):
        AugmentedIterator(X, y[:-1], 4)
    with pytest.raises(
        ValueError,
        match=r"AugmentedIterator: batch_size: expected a positive int, received 0",
    ):  # its argument is batch_size (iterate_minibatches' is batchsize)
        AugmentedIterator(X, y, 0)
    with pytest.raises(
        ValueError,
        match=r"AugmentedIterator: workers: expected an int "
        r">= 0, received -1",
    ):
        AugmentedIterator(X, y, 4, workers=-1)
    with pytest.raises(
        ValueError,
        match=r"AugmentedIterator: prefetch: expected an int "
        r">= 1, received 0",
    ):
        AugmentedIterator(X, y, 4, prefetch=0)
    with pytest.raises(
        ValueError,
        match=r"AugmentedIterator: backend: expected one of "
        r"'thread', 'process', received 'gpu'",
    ):
        AugmentedIterator(X, y, 4, backend="gpu")
    with pytest.raises(
        TypeError,
        match=r"AugmentedIterator: augment: expected an "
        r"Augmentation, a callable or None, received str",
    ):
        AugmentedIterator(X, y, 4, augment="flip")
