"""Decorrelation: PCA (optionally whitened) and ZCA whitening, from a batched covariance."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Preprocessor, _batches, _check_nonnegative, _finite_float64

# --------------------------------------------------------------------------------------------
# PCA and ZCA
# --------------------------------------------------------------------------------------------


def _covariance(X: Any, batch_size: int, caller: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of ``X`` reshaped to ``(N, D)``, accumulated in batches.

    Accumulates ``s = sum(x - c)`` and ``S = sum((x - c)(x - c)^T)`` in float64 with a shift
    ``c`` (the first batch's mean; 128 for uint8 data) that keeps the subtraction in
    ``S - s s^T / N`` well conditioned. For 8-bit integer data every partial product is an
    integer below 2**24, so the per-chunk products are computed exactly in float32 (about
    four times faster than float64 on a CPU) in chunks of at most 1024 rows. The products
    use BLAS ``syrk`` (the upper triangle only, half the work of a general product).
    """
    from scipy.linalg import blas

    n = X.shape[0]
    d = int(np.prod(X.shape[1:]))
    exact8 = X.dtype.itemsize == 1 and X.dtype.kind in "ui"
    s = np.zeros(d, np.float64)
    S = np.zeros((d, d), np.float64)  # upper triangle accumulated, mirrored at the end
    shift = None
    if exact8:
        # int8 needs no shift; uint8 minus 128 lies in [-128, 127], so |x|^2 <= 2**14 and a
        # chunk of 1024 rows sums to at most 2**24: exact in float32.
        shift = np.full(d, 128.0 if X.dtype.kind == "u" else 0.0)
        shift32 = shift.astype(np.float32)
        prod = np.zeros((d, d), np.float32, order="F")
        step, syrk = 1024, blas.ssyrk
    else:
        prod = np.zeros((d, d), np.float64, order="F")
        step, syrk = batch_size, blas.dsyrk
    for batch in _batches(n, batch_size):
        raw = np.asarray(X[batch]).reshape(-1, d)
        for start in range(0, raw.shape[0], step):
            if exact8:
                chunk = raw[start : start + step].astype(np.float32)
                chunk -= shift32
            else:
                chunk = _finite_float64(raw[start : start + step], caller)
                if shift is None:
                    shift = chunk.mean(axis=0)
                chunk -= shift
            s += chunk.sum(axis=0, dtype=np.float64)
            # chunk.T is Fortran-ordered, so BLAS reads it without a copy: prod = chunk.T @ chunk
            prod = syrk(1.0, chunk.T, beta=0.0, c=prod, trans=0, lower=0, overwrite_c=1)
            S += prod
    S = np.triu(S)
    S += np.triu(S, 1).T
    centred_mean = s / n
    cov = (S - n * np.outer(centred_mean, centred_mean)) / (n - 1)
    return shift + centred_mean, cov


def _eigh_descending(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending, clipped at 0) and eigenvectors as rows, each row's
    largest-magnitude entry positive."""
    import scipy.linalg

    values, vectors = scipy.linalg.eigh(cov, driver="evd", overwrite_a=True, check_finite=False)
    values = np.clip(values[::-1], 0.0, None)
    components = np.ascontiguousarray(vectors[:, ::-1].T)
    rows = np.arange(components.shape[0])
    signs = np.sign(components[rows, np.abs(components).argmax(axis=1)])
    signs[signs == 0] = 1.0
    components *= signs[:, None]
    return values, components


class _CovarianceMixin:
    def _min_samples(self) -> int:
        return 2

    def _fit_batches(self, X: Any, caller: str) -> None:
        mean, cov = _covariance(X, self.batch_size, caller)
        values, components = _eigh_descending(cov)
        del cov
        self._fit_eigen(mean, values, components)


class PCA(_CovarianceMixin, Preprocessor):
    """Principal component analysis: project onto the leading eigenvectors of the covariance.

    ``transform(x) = (x - mean_) @ components_.T``, divided by ``sqrt(explained_variance_ +
    epsilon)`` per component when ``whiten``. The covariance is the unbiased estimate (divided
    by ``N - 1``, as ``numpy.cov`` and scikit-learn), accumulated in batches.

    Parameters
    ----------
    n_components : int, float or None, default None
        Number of components kept. None keeps all ``D``; an int ``k`` keeps ``k`` (``1 <= k
        <= D``); a float ``0 < f < 1`` keeps the fewest components that explain at least that
        fraction of the variance.
    whiten : bool, default False
        Scale each component to unit variance.
    epsilon : float, default 1e-8
        Added to the variances before whitening (regularises near-zero components). In the
        data's squared units.
    dtype : str or numpy.dtype, default ``"float32"``
        Output dtype; the projection is computed in float32 for float16/float32 outputs, in
        float64 for float64.
    batch_size : int, default 1024
        Samples processed at a time.

    Attributes
    ----------
    mean_ : ndarray
        Mean of the flattened samples (float64), shape ``(D,)``.
    components_ : ndarray
        Principal axes as unit rows, by decreasing variance, shape ``(k, D)`` with
        ``k = n_components_``; the largest-magnitude entry of each row is positive (the sign
        convention).
    explained_variance_ : ndarray
        Variance along each component, shape ``(k,)``.
    explained_variance_ratio_ : ndarray
        That variance as a fraction of the total variance, shape ``(k,)``.
    n_components_ : int
        Number of components kept.

    Notes
    -----
    Shape: input ``(N, C, *spatial)`` or ``(N, D)``; output ``(N, k)``;
    ``inverse_transform`` maps ``(N, k)`` back to ``(N, C, *spatial)``, exactly
    when all components are kept.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.preprocessing import PCA
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2)) @ np.array([[3.0, 0.0], [1.0, 0.5]])
    >>> pca = PCA(n_components=1, whiten=True, dtype="float64").fit(X)
    >>> pca.components_.shape, round(float(pca.explained_variance_ratio_[0]), 3)
    ((1, 2), 0.979)
    >>> round(float(pca.transform(X).std(ddof=1)), 6)
    1.0
    """

    _config_names = ("n_components", "whiten", "epsilon", "dtype", "batch_size")
    _state_names = ("mean", "components", "explained_variance", "total_variance")

    def __init__(
        self,
        n_components: int | float | None = None,
        whiten: bool = False,
        epsilon: float = 1e-8,
        *,
        dtype: Any = "float32",
        batch_size: int = 1024,
    ):
        super().__init__(dtype=dtype, batch_size=batch_size)
        name = type(self).__name__
        if n_components is not None:
            if isinstance(n_components, bool) or not isinstance(
                n_components, int | float | np.integer | np.floating
            ):
                raise TypeError(
                    f"{name}: argument n_components: expected None, an int >= 1 or a float in "
                    f"(0, 1), received {n_components!r}"
                )
            if isinstance(n_components, int | np.integer):
                n_components = int(n_components)
                ok = n_components >= 1
            else:
                n_components = float(n_components)
                ok = 0.0 < n_components < 1.0
            if not ok:
                raise ValueError(
                    f"{name}: argument n_components: expected None, an int >= 1 or a float in "
                    f"(0, 1), received {n_components!r}"
                )
        self.n_components = n_components
        self.whiten = bool(whiten)
        self.epsilon = _check_nonnegative(epsilon, "epsilon", name)
        self.mean_ = self.components_ = self.explained_variance_ = None
        self.total_variance_ = None
        self._matrices = None

    def _check_fit_shape(self, feature_shape: tuple[int, ...], caller: str) -> None:
        d = int(np.prod(feature_shape))
        if isinstance(self.n_components, int) and self.n_components > d:
            raise ValueError(
                f"{caller}: n_components={self.n_components} exceeds the number of features "
                f"{d} of samples of shape {feature_shape}"
            )

    def _state_shapes(self, feature_shape, stored):
        d = int(np.prod(feature_shape))
        k = stored.get("components", (0,))[0]
        k = k if 1 <= k <= d else -1  # -1 matches no stored shape
        return {"mean": (d,), "components": (k, d), "explained_variance": (k,),
                "total_variance": ()}  # fmt: skip

    def _fit_eigen(self, mean, values, components):
        total = values.sum()
        if self.n_components is None:
            k = len(values)
        elif isinstance(self.n_components, int):
            k = self.n_components
        else:
            ratios = np.cumsum(values) / total if total > 0 else np.ones_like(values)
            k = int(np.searchsorted(ratios, self.n_components) + 1)
            k = min(k, len(values))
        self._set_state(
            {
                "mean": mean,
                "components": components[:k],
                "explained_variance": values[:k],
                "total_variance": np.asarray(total),
            }
        )

    def _set_state(self, state):
        super()._set_state(state)
        self._matrices = None

    @property
    def n_components_(self) -> int | None:
        return None if self.components_ is None else self.components_.shape[0]

    @property
    def explained_variance_ratio_(self) -> np.ndarray | None:
        if self.components_ is None:
            return None
        total = float(self.total_variance_)
        return (
            self.explained_variance_ / total
            if total > 0
            else np.zeros_like(self.explained_variance_)
        )

    def _get_matrices(self):
        if self._matrices is None:
            dt = self._compute_dtype()
            forward = self.components_.T.copy()
            backward = self.components_.copy()
            if self.whiten:
                std = np.sqrt(self.explained_variance_ + self.epsilon)
                forward /= std[None, :]
                backward *= std[:, None]
            self._matrices = (self.mean_.astype(dt), forward.astype(dt), backward.astype(dt))
        return self._matrices

    def _output_shape(self, feature_shape):
        return (self.n_components_,)

    def _transform_batch(self, x):
        mean, forward, _ = self._get_matrices()
        flat = x.reshape(x.shape[0], -1).astype(mean.dtype) - mean
        return flat @ forward

    def _inverse_batch(self, y):
        mean, _, backward = self._get_matrices()
        flat = y.astype(mean.dtype, copy=False) @ backward + mean
        return flat.reshape((y.shape[0],) + self.feature_shape_)


class ZCAWhitening(_CovarianceMixin, Preprocessor):
    """ZCA whitening: decorrelate the pixels and rotate back to pixel space.

    With the covariance ``Sigma = U diag(lambda) U^T`` of the flattened training samples::

        W = U diag(1 / sqrt(lambda + epsilon)) U^T
        transform(x) = (x - mean_) @ W

    Of all whitening matrices ``W`` is the one whose output stays closest to the input
    (Bell & Sejnowski, 1997), so whitened images still look like images with their edges
    enhanced. ``inverse_transform`` multiplies by ``U diag(sqrt(lambda + epsilon)) U^T`` and
    adds the mean back.

    Parameters
    ----------
    epsilon : float, default 0.1
        Added to the eigenvalues; larger values whiten less and amplify noise less (0.1 is
        pylearn2's ``filter_bias`` default). It is in the data's squared units: for raw
        ``uint8`` pixels (variances in the thousands) 0.1 barely regularises; after
        :class:`GlobalContrastNormalization` with ``scale=55`` or with data in ``[0, 1]``
        it does.
    dtype : str or numpy.dtype, default ``"float32"``
        Output dtype; the matrix product is computed in float32 for float16/float32
        outputs, in float64 for float64.
    batch_size : int, default 1024
        Samples processed at a time by ``fit`` and ``transform``.

    Attributes
    ----------
    mean_ : ndarray
        Mean of the flattened samples (float64), shape ``(D,)``.
    components_ : ndarray
        Eigenvectors of the covariance as rows, by decreasing eigenvalue, shape ``(D, D)``.
    explained_variance_ : ndarray
        The eigenvalues (unbiased covariance, divided by ``N - 1``), shape ``(D,)``.
    whitening_matrix_ : ndarray
        The matrix ``W`` above (float64), shape ``(D, D)``.

    Notes
    -----
    Shape: input ``(N, C, *spatial)`` or ``(N, D)``; output the same shape.

    ``fit`` on ``D`` features holds a few ``D x D`` float64 matrices (75 MB each for
    ``D = 3072``, CIFAR-10 size) plus one batch; 8-bit input is accumulated exactly with
    float32 arithmetic. ``benchmarks/augmentation.py --zca`` measures time and memory.

    References
    ----------
    * A. J. Bell, T. J. Sejnowski (1997): The "independent components" of natural scenes are
      edge filters. Vision Research 37(23).
    * A. Krizhevsky (2009): Learning Multiple Layers of Features from Tiny Images. Appendix A
      (ZCA whitening of CIFAR-10).

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.preprocessing import ZCAWhitening
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 3)) @ np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 0.5], [0, 0, 1]])
    >>> zca = ZCAWhitening(epsilon=0.0, dtype="float64").fit(X)
    >>> np.round(np.cov(zca.transform(X), rowvar=False), 6) + 0.0
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    >>> bool(np.allclose(zca.inverse_transform(zca.transform(X)), X))
    True
    """

    _config_names = ("epsilon", "dtype", "batch_size")
    _state_names = ("mean", "components", "explained_variance")

    def __init__(self, epsilon: float = 0.1, *, dtype: Any = "float32", batch_size: int = 1024):
        super().__init__(dtype=dtype, batch_size=batch_size)
        self.epsilon = _check_nonnegative(epsilon, "epsilon", type(self).__name__)
        self.mean_ = self.components_ = self.explained_variance_ = None
        self.whitening_matrix_: np.ndarray | None = None
        self._cast = None
        self._inverse = None

    def _state_shapes(self, feature_shape, stored):
        d = int(np.prod(feature_shape))
        return {"mean": (d,), "components": (d, d), "explained_variance": (d,)}

    def _fit_eigen(self, mean, values, components):
        self._set_state({"mean": mean, "components": components, "explained_variance": values})

    def _set_state(self, state):
        super()._set_state(state)
        if self.epsilon == 0.0 and np.any(self.explained_variance_ <= 0.0):
            raise ValueError(
                f"{type(self).__name__}: the covariance is singular "
                f"(smallest eigenvalue {self.explained_variance_.min():.3g}) and epsilon=0; "
                "use epsilon > 0 or fit on more samples than features"
            )
        u = self.components_
        self.whitening_matrix_ = (u.T / np.sqrt(self.explained_variance_ + self.epsilon)) @ u
        self._cast = None
        self._inverse = None

    def _get_forward(self):
        if self._cast is None:
            dt = self._compute_dtype()
            self._cast = (self.mean_.astype(dt), self.whitening_matrix_.astype(dt))
        return self._cast

    def _get_inverse(self):
        if self._inverse is None:
            dt = self._compute_dtype()
            u = self.components_
            matrix = (u.T * np.sqrt(self.explained_variance_ + self.epsilon)) @ u
            self._inverse = (self.mean_.astype(dt), matrix.astype(dt))
        return self._inverse

    def _transform_batch(self, x):
        mean, matrix = self._get_forward()
        flat = x.reshape(x.shape[0], -1).astype(mean.dtype) - mean
        return (flat @ matrix).reshape(x.shape)

    def _inverse_batch(self, y):
        mean, matrix = self._get_inverse()
        flat = y.reshape(y.shape[0], -1).astype(mean.dtype) @ matrix + mean
        return flat.reshape(y.shape)
