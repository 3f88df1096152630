"""Tests of convnet.preprocessing against NumPy/scikit-learn references."""

import h5py
import numpy as np
import pytest

from convnet.preprocessing import (
    PCA,
    ChannelStandardization,
    GlobalContrastNormalization,
    PixelStandardization,
    Preprocessor,
    ZCAWhitening,
)

ALL_CLASSES = [
    ChannelStandardization,
    PixelStandardization,
    GlobalContrastNormalization,
    PCA,
    ZCAWhitening,
]
FITTED_CLASSES = [ChannelStandardization, PixelStandardization, PCA, ZCAWhitening]


def correlated_images(n=300, shape=(2, 4, 4), seed=0, dtype=np.float64):
    """Images with correlated pixels, a non-zero mean and unequal channel scales."""
    rng = np.random.default_rng(seed)
    d = int(np.prod(shape))
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    flat = rng.normal(size=(n, d)) @ mixing * 3.0 + rng.uniform(20, 200, d)
    X = flat.reshape((n,) + shape)
    X[:, 0] *= 2.5
    return X.astype(dtype)


def uint8_images(n=300, shape=(3, 4, 4), seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (n, 1) + shape[1:])
    noise = rng.integers(-40, 41, (n,) + shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# values against references
# ---------------------------------------------------------------------------------------------


def test_channel_standardization_matches_numpy():
    X = correlated_images()
    prep = ChannelStandardization(dtype="float64").fit(X)
    mean = X.mean(axis=(0, 2, 3), keepdims=True)
    std = X.std(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(prep.mean_, mean[0], rtol=1e-12)
    np.testing.assert_allclose(prep.scale_, std[0], rtol=1e-12)
    np.testing.assert_allclose(prep.transform(X), (X - mean) / std, rtol=1e-10, atol=1e-12)


def test_channel_standardization_on_flat_input_is_per_feature():
    X = correlated_images().reshape(300, -1)
    prep = ChannelStandardization(dtype="float64").fit(X)
    np.testing.assert_allclose(prep.transform(X), (X - X.mean(0)) / X.std(0), atol=1e-10)


def test_pixel_standardization_matches_numpy():
    X = correlated_images()
    prep = PixelStandardization(dtype="float64").fit(X)
    reference = (X - X.mean(axis=0)) / X.std(axis=0)
    np.testing.assert_allclose(prep.transform(X), reference, rtol=1e-9, atol=1e-10)
    assert prep.mean_.shape == (2, 4, 4)


def test_standardization_constant_feature_is_only_centred():
    X = correlated_images()
    X[:, 1, 0, 0] = 7.0
    prep = PixelStandardization(dtype="float64").fit(X)
    assert prep.scale_[1, 0, 0] == 1.0
    Y = prep.transform(X + 1.0)
    np.testing.assert_allclose(Y[:, 1, 0, 0], 1.0)


def gcn_reference(X, scale, sqrt_bias, epsilon, use_std, subtract_mean):
    """Sample-by-sample loop of pylearn2's global_contrast_normalize formula."""
    out = np.empty((len(X), int(np.prod(X.shape[1:]))))
    for i, sample in enumerate(X):
        x = sample.ravel().astype(np.float64)
        if subtract_mean:
            x = x - x.mean()
        if use_std:
            norm = np.sqrt(sqrt_bias + np.var(x, ddof=1 if x.size > 1 else 0))
        else:
            norm = np.sqrt(sqrt_bias + np.sum(x**2))
        if norm < epsilon:
            norm = 1.0
        out[i] = scale * x / norm
    return out.reshape(X.shape)


@pytest.mark.parametrize("use_std", [False, True])
@pytest.mark.parametrize("subtract_mean", [False, True])
@pytest.mark.parametrize("scale, sqrt_bias", [(1.0, 0.0), (55.0, 10.0)])
def test_gcn_matches_loop_reference(use_std, subtract_mean, scale, sqrt_bias):
    X = uint8_images(n=20)
    X[3] = 100  # a constant image: the divisor is 0 (or sqrt_bias) there
    prep = GlobalContrastNormalization(
        scale,
        sqrt_bias,
        1e-8,
        use_std=use_std,
        subtract_mean=subtract_mean,
        dtype="float64",
        batch_size=7,
    )
    expected = gcn_reference(X, scale, sqrt_bias, 1e-8, use_std, subtract_mean)
    np.testing.assert_allclose(prep.fit_transform(X), expected, rtol=1e-12, atol=1e-12)


def test_gcn_needs_no_fit_but_checks_shape_after_fit():
    X = uint8_images(n=5)
    np.testing.assert_allclose(
        GlobalContrastNormalization().transform(X),
        gcn_reference(X, 1, 0, 1e-8, False, True),
        rtol=1e-6,
    )
    prep = GlobalContrastNormalization().fit(X)
    with pytest.raises(
        ValueError, match=r"GlobalContrastNormalization.transform: expected samples"
    ):
        prep.transform(X[:, :2])


def svd_reference(X):
    """Principal axes and variances from the SVD of the centred data matrix."""
    flat = X.reshape(len(X), -1).astype(np.float64)
    centred = flat - flat.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return vt, s**2 / (len(X) - 1), flat.mean(axis=0)


def test_pca_matches_svd_reference():
    X = correlated_images()
    vt, variances, mean = svd_reference(X)
    pca = PCA(n_components=10, dtype="float64").fit(X)
    np.testing.assert_allclose(pca.explained_variance_, variances[:10], rtol=1e-9)
    np.testing.assert_allclose(pca.explained_variance_ratio_, variances[:10] / variances.sum())
    signs = np.sign(np.sum(pca.components_ * vt[:10], axis=1))
    np.testing.assert_allclose(pca.components_, vt[:10] * signs[:, None], atol=1e-8)
    centred = X.reshape(len(X), -1) - mean
    np.testing.assert_allclose(pca.transform(X), centred @ (vt[:10] * signs[:, None]).T, atol=1e-7)
    # the sign convention: each component's largest-magnitude entry is positive
    rows = np.arange(10)
    assert np.all(pca.components_[rows, np.abs(pca.components_).argmax(axis=1)] > 0)


def test_pca_whitened_matches_svd_reference():
    X = correlated_images()
    vt, variances, mean = svd_reference(X)
    pca = PCA(n_components=5, whiten=True, epsilon=0.0, dtype="float64").fit(X)
    signs = np.sign(np.sum(pca.components_ * vt[:5], axis=1))
    expected = (X.reshape(300, -1) - mean) @ vt[:5].T / np.sqrt(variances[:5]) * signs
    np.testing.assert_allclose(pca.transform(X), expected, atol=1e-7)


def test_pca_whitened_covariance_is_identity():
    X = correlated_images()
    Y = PCA(whiten=True, epsilon=0.0, dtype="float64").fit_transform(X)
    np.testing.assert_allclose(np.cov(Y, rowvar=False), np.eye(Y.shape[1]), atol=1e-8)


def test_pca_variance_fraction_selects_components():
    X = correlated_images()
    _, variances, _ = svd_reference(X)
    ratios = np.cumsum(variances) / variances.sum()
    expected = int(np.argmax(ratios >= 0.9) + 1)
    pca = PCA(n_components=0.9).fit(X)
    assert pca.n_components_ == expected
    assert pca.transform(X).shape == (300, expected)


def zca_reference(X, epsilon):
    flat = X.reshape(len(X), -1).astype(np.float64)
    values, vectors = np.linalg.eigh(np.cov(flat, rowvar=False))
    W = vectors @ np.diag(1.0 / np.sqrt(values + epsilon)) @ vectors.T
    return ((flat - flat.mean(axis=0)) @ W).reshape(X.shape)


def test_zca_matches_eigh_reference():
    X = correlated_images()
    zca = ZCAWhitening(epsilon=0.5, dtype="float64").fit(X)
    np.testing.assert_allclose(zca.transform(X), zca_reference(X, 0.5), atol=1e-8)


@pytest.mark.parametrize("dtype, atol", [("float64", 1e-8), ("float32", 2e-3)])
def test_zca_whitened_covariance_is_identity(dtype, atol):
    X = correlated_images()
    Y = ZCAWhitening(epsilon=0.0, dtype=dtype).fit_transform(X)
    assert Y.dtype == np.dtype(dtype) and Y.shape == X.shape
    np.testing.assert_allclose(np.cov(Y.reshape(300, -1), rowvar=False), np.eye(32), atol=atol)


def test_zca_is_symmetric_and_keeps_images_close():
    """ZCA is the whitening that stays closest to the input: W is symmetric positive definite."""
    zca = ZCAWhitening(epsilon=0.0, dtype="float64").fit(correlated_images())
    W = zca.whitening_matrix_
    np.testing.assert_allclose(W, W.T, atol=1e-12)
    assert np.linalg.eigvalsh(W).min() > 0


# ---------------------------------------------------------------------------------------------
# inverse transforms and dtypes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prep",
    [
        ChannelStandardization(dtype="float64"),
        PixelStandardization(dtype="float64"),
        PCA(dtype="float64"),
        PCA(whiten=True, dtype="float64"),
        ZCAWhitening(epsilon=0.1, dtype="float64"),
    ],
    ids=lambda p: repr(p),
)
def test_inverse_transform_round_trips(prep):
    X = correlated_images()
    np.testing.assert_allclose(prep.inverse_transform(prep.fit_transform(X)), X, atol=1e-8)


def test_inverse_transform_float32_round_trip_from_uint8():
    X = uint8_images()
    prep = ZCAWhitening(epsilon=1.0).fit(X)
    Y = prep.transform(X)
    assert Y.dtype == np.float32
    back = prep.inverse_transform(Y)
    assert back.dtype == np.float32 and back.shape == X.shape
    np.testing.assert_allclose(back, X, atol=1e-2)


def test_truncated_pca_inverse_is_the_projection():
    X = correlated_images()
    pca = PCA(n_components=4, dtype="float64").fit(X)
    vt, _, mean = svd_reference(X)
    flat = X.reshape(300, -1) - mean
    expected = (flat @ vt[:4].T @ vt[:4] + mean).reshape(X.shape)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(X)), expected, atol=1e-8)


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_outputs_are_float32_by_default(cls):
    X = uint8_images()
    Y = cls().fit_transform(X)
    assert Y.dtype == np.float32
    assert cls(dtype=np.float64).fit_transform(X).dtype == np.float64


# ---------------------------------------------------------------------------------------------
# batched accumulation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", FITTED_CLASSES)
@pytest.mark.parametrize("make", [correlated_images, uint8_images], ids=["float", "uint8"])
def test_batch_accumulation_equals_one_pass(cls, make):
    X = make()
    batched = cls(dtype="float64", batch_size=7).fit(X)
    one_pass = cls(dtype="float64", batch_size=len(X)).fit(X)
    for key in cls._state_names:
        np.testing.assert_allclose(
            getattr(batched, key + "_"), getattr(one_pass, key + "_"), rtol=1e-9, atol=1e-9
        )
    np.testing.assert_allclose(batched.transform(X), one_pass.transform(X), rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.float32])
def test_covariance_accumulation_matches_np_cov(dtype):
    from convnet.preprocessing import _covariance

    rng = np.random.default_rng(1)
    if np.dtype(dtype).kind in "ui":
        # values at the ends of the range: the largest products, and sums of thousands of them
        # that float32 holds exactly only in chunks of at most 1024 rows
        info = np.iinfo(dtype)
        ends = [info.min, info.min + 1, info.max - 1, info.max]
        X = rng.choice(ends, (5000, 6)).astype(dtype)
    else:
        X = (rng.normal(size=(5000, 6)) * 100 + 1e4).astype(dtype)
    mean, cov = _covariance(X, batch_size=3000, caller="test")
    flat = X.astype(np.float64)
    np.testing.assert_allclose(mean, flat.mean(axis=0), rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(cov, np.cov(flat, rowvar=False), rtol=1e-12, atol=1e-9)


def test_fit_reads_h5py_dataset_in_batches(tmp_path):
    X = uint8_images()
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["X"] = X
        from_file = ZCAWhitening(dtype="float64", batch_size=64).fit(f["X"])
        transformed = from_file.transform(f["X"])
    in_memory = ZCAWhitening(dtype="float64").fit(X)
    np.testing.assert_allclose(from_file.whitening_matrix_, in_memory.whitening_matrix_, atol=1e-10)
    np.testing.assert_allclose(transformed, in_memory.transform(X), atol=1e-9)


# ---------------------------------------------------------------------------------------------
# save / load
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prep",
    [
        ChannelStandardization(epsilon=1e-3, dtype="float64"),
        PixelStandardization(batch_size=10),
        GlobalContrastNormalization(scale=55.0, sqrt_bias=10.0, use_std=True),
        PCA(n_components=0.95, whiten=True, epsilon=1e-3),
        PCA(n_components=3),
        ZCAWhitening(epsilon=0.01, dtype="float64"),
    ],
    ids=lambda p: type(p).__name__,
)
def test_save_load_round_trip(prep, tmp_path):
    X = correlated_images()
    prep.fit(X)
    prep.save(tmp_path / "prep.h5")
    loaded = Preprocessor.load(tmp_path / "prep.h5")
    assert type(loaded) is type(prep)
    assert loaded.get_config() == prep.get_config()
    assert loaded.feature_shape_ == prep.feature_shape_ == (2, 4, 4)
    assert loaded.n_samples_seen_ == 300
    np.testing.assert_array_equal(loaded.transform(X), prep.transform(X))
    if hasattr(prep, "_inverse_batch"):
        Y = prep.transform(X)
        np.testing.assert_array_equal(loaded.inverse_transform(Y), prep.inverse_transform(Y))


def test_save_into_a_group_beside_other_content(tmp_path):
    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as f:
        f["weights/W"] = np.ones(3)
    X = correlated_images()
    zca = ZCAWhitening(dtype="float64").fit(X)
    pca = PCA(n_components=2).fit(X)
    zca.save(path, group="preprocessing/zca")
    with h5py.File(path, "a") as f:
        pca.save(f["preprocessing"], group="pca")
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["weights/W"][()], np.ones(3))
        loaded_zca = ZCAWhitening.load(f, group="preprocessing/zca")
        loaded_pca = PCA.load(f["preprocessing/pca"])
    np.testing.assert_array_equal(loaded_zca.transform(X), zca.transform(X))
    np.testing.assert_array_equal(loaded_pca.transform(X), pca.transform(X))


def test_saving_again_replaces_the_state(tmp_path):
    path = tmp_path / "p.h5"
    PCA(n_components=2).fit(correlated_images()).save(path, group="p")
    ChannelStandardization().save(path, group="p")  # unfitted
    with h5py.File(path, "r") as f:
        assert sorted(f["p"]) == []
    loaded = Preprocessor.load(path, group="p")
    assert isinstance(loaded, ChannelStandardization) and not loaded.is_fitted


def test_load_errors_name_the_class_and_group(tmp_path):
    path = tmp_path / "p.h5"
    PCA(n_components=2).fit(correlated_images()).save(path)
    with pytest.raises(
        ValueError, match=rf"ZCAWhitening.load: HDF5 group '/' of '{path}' holds a PCA, not a ZCA"
    ):
        ZCAWhitening.load(path)
    with h5py.File(path, "a") as f:
        f.create_group("empty")
    with pytest.raises(ValueError, match=r"PCA.load: HDF5 group '/empty' of '.*' holds no convnet"):
        PCA.load(path, group="empty")
    with pytest.raises(ValueError, match=r"Preprocessor.load: no group 'missing' in"):
        Preprocessor.load(path, group="missing")
    with h5py.File(path, "a") as f:
        f.attrs["class"] = "os.system"
    with pytest.raises(ValueError, match=r"unknown preprocessor class 'os.system'; known: "):
        Preprocessor.load(path)
    with pytest.raises(TypeError, match=r"PCA.save: expected a file path or an h5py.File"):
        PCA().save(3)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", FITTED_CLASSES)
def test_transform_before_fit(cls):
    name = cls.__name__
    with pytest.raises(
        ValueError, match=rf"{name}.transform: this {name} is not fitted yet; call fit"
    ):
        cls().transform(np.zeros((2, 3)))


def test_inverse_before_fit_and_missing_inverse():
    with pytest.raises(
        ValueError, match=r"ZCAWhitening.inverse_transform: this ZCAWhitening is not"
    ):
        ZCAWhitening().inverse_transform(np.zeros((2, 3)))
    with pytest.raises(TypeError, match=r"GlobalContrastNormalization has no inverse transform"):
        GlobalContrastNormalization().inverse_transform(np.zeros((2, 3)))


@pytest.mark.parametrize("cls", FITTED_CLASSES)
def test_wrong_feature_shape_names_class_and_shapes(cls):
    prep = cls().fit(correlated_images())
    message = (
        rf"{cls.__name__}.transform: expected samples of shape \(2, 4, 4\) \(32 features, as "
        rf"seen by fit\), received array of shape \(5, 3, 4, 4\) \(48 features per sample\)"
    )
    with pytest.raises(ValueError, match=message):
        prep.transform(np.zeros((5, 3, 4, 4)))


def test_wrong_shape_for_inverse():
    pca = PCA(n_components=3).fit(correlated_images())
    with pytest.raises(
        ValueError,
        match=r"PCA.inverse_transform: expected transformed samples of shape \(3,\), received "
        r"array of shape \(5, 4\)",
    ):
        pca.inverse_transform(np.zeros((5, 4)))


def test_bad_inputs():
    with pytest.raises(
        ValueError,
        match=r"PCA.fit: expected an array of shape \(N, C, H, W\) or "
        r"\(N, D\) \(samples first\), received shape \(10,\)",
    ):
        PCA().fit(np.zeros(10))
    with pytest.raises(
        TypeError,
        match=r"ZCAWhitening.fit: expected a real numeric array .* "
        r"received dtype complex128",
    ):
        ZCAWhitening().fit(np.zeros((4, 3), complex))
    with pytest.raises(
        ValueError, match=r"PCA.fit: expected at least 2 samples, received shape \(1, 3\)"
    ):
        PCA().fit(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"ChannelStandardization.fit: the input contains NaN"):
        ChannelStandardization().fit(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(ValueError, match=r"ZCAWhitening.fit: the input contains NaN or infinity"):
        ZCAWhitening().fit(np.array([[1.0, np.inf], [2.0, 3.0], [0.0, 1.0]]))
    with pytest.raises(
        ValueError,
        match=r"PCA.fit: n_components=5 exceeds the number of features "
        r"4 of samples of shape \(4,\)",
    ):
        PCA(n_components=5).fit(np.zeros((10, 4)))
    with pytest.raises(ValueError, match=r"ZCAWhitening: the covariance is singular .* epsilon=0"):
        ZCAWhitening(epsilon=0.0).fit(np.random.default_rng(0).normal(size=(3, 5)))


def test_bad_arguments():
    with pytest.raises(
        TypeError,
        match=r"PCA: argument dtype: expected a floating-point dtype "
        r"such as 'float32', received 'int32'",
    ):
        PCA(dtype="int32")
    with pytest.raises(
        ValueError,
        match=r"ZCAWhitening: argument batch_size: expected a positive "
        r"integer, received 0",
    ):
        ZCAWhitening(batch_size=0)
    with pytest.raises(
        ValueError,
        match=r"ZCAWhitening: argument epsilon: expected a finite "
        r"number >= 0, received -1.0",
    ):
        ZCAWhitening(epsilon=-1)
    for bad in (0, 1.5, -2):
        with pytest.raises(
            ValueError,
            match=rf"PCA: argument n_components: expected None, an "
            rf"int >= 1 or a float in \(0, 1\), received {bad}",
        ):
            PCA(n_components=bad)
    with pytest.raises(TypeError, match=r"PCA: argument n_components: .* received 'all'"):
        PCA(n_components="all")
    with pytest.raises(
        ValueError,
        match=r"GlobalContrastNormalization: argument scale: expected a "
        r"number > 0, received 0",
    ):
        GlobalContrastNormalization(scale=0)
