"""Standardisation per channel or per feature, and global contrast normalisation."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Preprocessor, _batches, _check_nonnegative, _finite_float64

# --------------------------------------------------------------------------------------------
# standardisation
# --------------------------------------------------------------------------------------------


class _Standardization(Preprocessor):
    """Subtract a mean and divide by a standard deviation, pooled over ``_pooled_axes``."""

    _config_names = ("epsilon", "dtype", "batch_size")
    _state_names = ("mean", "scale", "var")

    def __init__(self, epsilon: float = 1e-8, *, dtype: Any = "float32", batch_size: int = 1024):
        super().__init__(dtype=dtype, batch_size=batch_size)
        self.epsilon = _check_nonnegative(epsilon, "epsilon", type(self).__name__)
        self.mean_: np.ndarray | None = None
        self.var_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def _pooled_axes(self, ndim: int) -> tuple[int, ...]:
        raise NotImplementedError

    def _state_shapes(self, feature_shape, stored):
        shape = [1, *feature_shape]
        for axis in self._pooled_axes(len(shape)):
            shape[axis] = 1
        return {key: tuple(shape[1:]) for key in self._state_names}

    def _fit_batches(self, X: Any, caller: str) -> None:
        axes = self._pooled_axes(X.ndim)
        count = 0
        mean = m2 = None
        # Chan et al.'s pairwise update of (count, mean, sum of squared deviations), in float64.
        for batch in _batches(X.shape[0], self.batch_size):
            b = _finite_float64(X[batch], caller)
            b_count = int(np.prod([b.shape[a] for a in axes]))
            b_mean = b.mean(axis=axes, keepdims=True)
            b_m2 = np.square(b - b_mean).sum(axis=axes, keepdims=True)
            if mean is None:
                count, mean, m2 = b_count, b_mean, b_m2
                continue
            total = count + b_count
            delta = b_mean - mean
            mean = mean + delta * (b_count / total)
            m2 = m2 + b_m2 + np.square(delta) * (count * b_count / total)
            count = total
        var = m2 / count
        scale = np.sqrt(var)
        scale[scale < self.epsilon] = 1.0
        self.mean_, self.var_, self.scale_ = mean[0], var[0], scale[0]

    def _transform_batch(self, x: np.ndarray) -> np.ndarray:
        dt = self._compute_dtype()
        return (x.astype(dt, copy=False) - self.mean_.astype(dt)) / self.scale_.astype(dt)

    def _inverse_batch(self, y: np.ndarray) -> np.ndarray:
        dt = self._compute_dtype()
        return y.astype(dt, copy=False) * self.scale_.astype(dt) + self.mean_.astype(dt)


class ChannelStandardization(_Standardization):
    """Per-channel standardisation: ``(x - mean[c]) / std[c]`` for every value of channel ``c``.

    The mean and (population) standard deviation of each channel are pooled over all samples
    and all pixels; the channel axis is axis 1. For ``(N, D)`` input every feature is its own
    channel (the same as :class:`PixelStandardization`).

    Parameters
    ----------
    epsilon : float, default 1e-8
        Standard deviations below ``epsilon`` are replaced by 1, so a constant channel is only
        centred.
    dtype : str or numpy.dtype, default ``"float32"``
        Output dtype.
    batch_size : int, default 1024
        Samples processed at a time.

    Attributes
    ----------
    mean_, var_ : ndarray
        Channel means and population variances (float64), of shape ``(C, 1, 1)`` for
        ``(N, C, H, W)`` input and ``(D,)`` for ``(N, D)``: broadcastable against a sample.
    scale_ : ndarray
        ``sqrt(var_)``, with entries below ``epsilon`` replaced by 1 (same shape).

    Notes
    -----
    Shape: input ``(N, C, *spatial)`` or ``(N, D)``; output the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.preprocessing import ChannelStandardization
    >>> X = np.random.default_rng(0).integers(0, 256, (100, 3, 8, 8), dtype=np.uint8)
    >>> prep = ChannelStandardization().fit(X)
    >>> Y = prep.transform(X)
    >>> Y.dtype, Y.shape, prep.mean_.shape
    (dtype('float32'), (100, 3, 8, 8), (3, 1, 1))
    >>> np.allclose(Y.mean(axis=(0, 2, 3)), 0, atol=1e-5), np.allclose(Y.std(axis=(0, 2, 3)), 1)
    (True, True)
    """

    def _pooled_axes(self, ndim: int) -> tuple[int, ...]:
        return (0,) + tuple(range(2, ndim))


class PixelStandardization(_Standardization):
    """Per-pixel standardisation: every feature (pixel of a channel) gets its own mean and std.

    ``(x - mean) / std`` where ``mean`` and ``std`` have the shape of one sample; the same as
    scikit-learn's ``StandardScaler`` on the flattened samples.

    Parameters
    ----------
    epsilon : float, default 1e-8
        Standard deviations below ``epsilon`` are replaced by 1, so constant pixels (the black
        border of MNIST digits) are only centred, not blown up.
    dtype : str or numpy.dtype, default ``"float32"``
        Output dtype.
    batch_size : int, default 1024
        Samples processed at a time.

    Attributes
    ----------
    mean_, var_ : ndarray
        Feature means and population variances (float64), of the shape of one sample,
        e.g. ``(C, H, W)``.
    scale_ : ndarray
        ``sqrt(var_)``, with entries below ``epsilon`` replaced by 1 (same shape).

    Notes
    -----
    Shape: input ``(N, C, *spatial)`` or ``(N, D)``; output the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.preprocessing import PixelStandardization
    >>> X = np.random.default_rng(0).normal(5.0, 2.0, (200, 1, 4, 4))
    >>> prep = PixelStandardization(dtype="float64").fit(X)
    >>> prep.mean_.shape
    (1, 4, 4)
    >>> bool(np.allclose(prep.inverse_transform(prep.transform(X)), X))
    True
    """

    def _pooled_axes(self, ndim: int) -> tuple[int, ...]:
        return (0,)


# --------------------------------------------------------------------------------------------
# global contrast normalisation
# --------------------------------------------------------------------------------------------


class GlobalContrastNormalization(Preprocessor):
    """Global contrast normalisation of each sample separately (Goodfellow et al., 2013).

    For each sample ``x`` with its ``D = C*H*W`` values::

        x' = x - mean(x)                                  (if subtract_mean)
        n  = sqrt(sqrt_bias + sum(x'**2))                 (use_std=False)
        n  = sqrt(sqrt_bias + var(x', ddof=1))            (use_std=True; ddof=0 when D == 1)
        n  = 1 where n < epsilon
        output = scale * x' / n

    There are no statistics to fit: ``fit`` only records the sample shape (``transform``
    then checks it) and ``transform`` works without ``fit``. There is no inverse.

    Parameters
    ----------
    scale : float, default 1.0
        The norm (or standard deviation, with ``use_std``) of each output sample. Goodfellow
        et al.'s CIFAR-10 pipeline used ``scale=55`` followed by ZCA whitening.
    sqrt_bias : float, default 0.0
        Added to the squared norm (or variance) before the square root; regularises samples
        with little contrast.
    epsilon : float, default 1e-8
        Divisors below ``epsilon`` are replaced by 1 (a constant image stays constant zero).
    use_std : bool, default False
        Divide by the standard deviation instead of the Euclidean norm.
    subtract_mean : bool, default True
        Subtract each sample's mean first.
    dtype : str or numpy.dtype, default ``"float32"``
        Output dtype.
    batch_size : int, default 1024
        Samples processed at a time.

    Notes
    -----
    Shape: input ``(N, C, *spatial)`` or ``(N, D)``; output the same shape.

    References
    ----------
    I. J. Goodfellow, D. Warde-Farley, M. Mirza, A. Courville, Y. Bengio (2013): Maxout
    Networks. ICML. (GCN as in pylearn2's ``global_contrast_normalize``.)

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.preprocessing import GlobalContrastNormalization
    >>> X = np.random.default_rng(0).integers(0, 256, (4, 3, 8, 8), dtype=np.uint8)
    >>> Y = GlobalContrastNormalization(scale=55.0).transform(X)
    >>> np.round(np.linalg.norm(Y.reshape(4, -1), axis=1), 3)
    array([55., 55., 55., 55.], dtype=float32)
    """

    _config_names = (
        "scale",
        "sqrt_bias",
        "epsilon",
        "use_std",
        "subtract_mean",
        "dtype",
        "batch_size",
    )
    _needs_fit = False

    def __init__(
        self,
        scale: float = 1.0,
        sqrt_bias: float = 0.0,
        epsilon: float = 1e-8,
        use_std: bool = False,
        subtract_mean: bool = True,
        *,
        dtype: Any = "float32",
        batch_size: int = 1024,
    ):
        super().__init__(dtype=dtype, batch_size=batch_size)
        name = type(self).__name__
        self.scale = _check_nonnegative(scale, "scale", name)
        if self.scale == 0.0:
            raise ValueError(f"{name}: argument scale: expected a number > 0, received {scale!r}")
        self.sqrt_bias = _check_nonnegative(sqrt_bias, "sqrt_bias", name)
        self.epsilon = _check_nonnegative(epsilon, "epsilon", name)
        self.use_std = bool(use_std)
        self.subtract_mean = bool(subtract_mean)

    def _fit_batches(self, X: Any, caller: str) -> None:
        """Nothing to estimate."""

    def _transform_batch(self, x: np.ndarray) -> np.ndarray:
        flat = x.reshape(x.shape[0], -1).astype(np.float64)
        if self.subtract_mean:
            flat -= flat.mean(axis=1, keepdims=True)
        if self.use_std:
            ddof = 1 if flat.shape[1] > 1 else 0
            norms = np.sqrt(self.sqrt_bias + flat.var(axis=1, ddof=ddof))
        else:
            norms = np.sqrt(self.sqrt_bias + np.square(flat).sum(axis=1))
        norms[norms < self.epsilon] = 1.0
        flat *= (self.scale / norms)[:, None]
        return flat.reshape(x.shape)
