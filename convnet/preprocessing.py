"""Data preprocessing fitted on a training set: standardisation, contrast normalisation, PCA, ZCA.

Every preprocessor follows one contract:

* ``fit(X)`` estimates statistics from a training array, reading it in batches of
  ``batch_size`` samples and accumulating sufficient statistics in float64, so it also works
  on arrays that are too large for one float64 copy (a ``numpy.memmap`` or an ``h5py``
  dataset works as well as an in-memory array);
* ``transform(X)`` applies it, ``fit_transform(X)`` does both, and ``inverse_transform(Y)``
  undoes it where that is possible;
* ``save(target, group=None)`` writes the configuration and the fitted state to an HDF5 file
  or group, and ``load(source, group=None)`` reads it back, so a preprocessor can live in the
  same HDF5 file as the model it feeds. Nothing is pickled and loading executes no code.

Inputs are arrays of shape ``(N, C, H, W)`` (or any ``(N, ...)``) or ``(N, D)``, of unsigned
or signed integers (``uint8`` images) or floats. Outputs are ``float32`` unless the ``dtype``
argument says otherwise.

* :class:`ChannelStandardization`: subtract the mean and divide by the standard deviation of
  each channel (statistics over samples and pixels);
* :class:`PixelStandardization`: the same for every feature (each pixel of each channel);
* :class:`GlobalContrastNormalization`: per sample, subtract its mean and divide by its norm
  (Goodfellow et al., 2013); nothing to fit;
* :class:`PCA`: project onto the leading principal components, optionally whitened;
* :class:`ZCAWhitening`: whiten and rotate back to pixel space (Bell & Sejnowski, 1997).
"""

from __future__ import annotations

import io as _io
import json
import os
from typing import Any, ClassVar

import numpy as np

from . import _hdf5

__all__ = [
    "Preprocessor",
    "ChannelStandardization",
    "PixelStandardization",
    "GlobalContrastNormalization",
    "PCA",
    "ZCAWhitening",
]

_FORMAT = "convnet.preprocessing"
_FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------------
# argument checking
# --------------------------------------------------------------------------------------------


def _check_float_dtype(dtype: Any, owner: str) -> np.dtype:
    try:
        result = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(
            f"{owner}: argument dtype: expected a floating-point dtype such as 'float32', "
            f"received {dtype!r}"
        ) from exc
    if result.kind != "f":
        raise TypeError(
            f"{owner}: argument dtype: expected a floating-point dtype such as 'float32', "
            f"received {result.name!r}"
        )
    return result


def _check_positive_int(value: Any, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"{owner}: argument {name}: expected a positive integer, received {value!r}"
        )
    return int(value)


def _check_nonnegative(value: Any, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{owner}: argument {name}: expected a number >= 0, received {value!r}")
    value = float(value)
    if not value >= 0.0 or not np.isfinite(value):
        raise ValueError(
            f"{owner}: argument {name}: expected a finite number >= 0, received {value!r}"
        )
    return value


def _as_array_like(X: Any, where: str) -> Any:
    """Return ``X`` if it behaves like an array (shape, ndim, dtype, slicing), else ``asarray``.

    Arrays are not copied: ``h5py`` datasets and memmaps are read batch by batch later.
    """
    if not all(hasattr(X, attr) for attr in ("shape", "ndim", "dtype", "__getitem__")):
        X = np.asarray(X)
    if X.dtype.kind not in "uif":
        raise TypeError(
            f"{where}: expected a real numeric array (unsigned or signed integers such as uint8, "
            f"or floats), received dtype {X.dtype}"
        )
    if X.ndim < 2:
        raise ValueError(
            f"{where}: expected an array of shape (N, C, H, W) or (N, D) (samples first), "
            f"received shape {tuple(X.shape)}"
        )
    return X


def _finite_float64(batch: Any, where: str) -> np.ndarray:
    """A float64 copy of ``batch``; floating input is checked for NaN and infinity."""
    batch = np.asarray(batch)
    result = batch.astype(np.float64)
    if batch.dtype.kind == "f" and not np.all(np.isfinite(result)):
        raise ValueError(f"{where}: the input contains NaN or infinity")
    return result


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


# --------------------------------------------------------------------------------------------
# HDF5 helpers
# --------------------------------------------------------------------------------------------


def _json_attr(g: Any, name: str, filename: str, where: str, kind: type | tuple[type, ...]) -> Any:
    """A JSON attribute written by :meth:`Preprocessor.save`, of type ``kind``."""
    text = _hdf5.text_attr(g, name, filename, where)
    if text is None:
        raise ValueError(f"{where}: {filename!r} is damaged: attribute {name!r} is missing")
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        value = _INVALID
    if not isinstance(value, kind) or (kind is dict and not all(isinstance(k, str) for k in value)):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        expected = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise ValueError(
            f"{where}: {filename!r}: attribute {name!r} should be a JSON {expected}, found "
            f"{text[:60]!r}"
        )
    return value


_INVALID = object()


def _check_unfitted(
    g: Any, klass: type, feature_shape: Any, seen: int, names: list, filename: str, where: str
) -> None:
    """Refuse a group flagged as not fitted that holds any part of a fitted state."""
    stray = [k for k in klass._state_names if _hdf5.member(g, k, filename, where) is not None]
    held = [
        text
        for text, present in (
            (f"feature_shape {str(feature_shape)[:80]}", feature_shape is not None),
            (f"{seen} samples seen", seen != 0),
            (f"state arrays {str(names)[:80]}", bool(names)),
            (f"state datasets {stray}", bool(stray)),
        )
        if present
    ]
    if held:
        raise ValueError(
            f"{where}: {filename!r}: its {klass.__name__} is flagged as not fitted but the file "
            f"holds fitted state ({', '.join(held)}); it is damaged"
        )


class _OpenGroup:
    """Context manager giving an ``h5py.Group`` for ``target`` (path or group) and ``group``."""

    def __init__(self, target: Any, group: str | None, writing: bool, where: str):
        import h5py

        self._file = None
        if isinstance(target, h5py.Group):
            base = target
        elif isinstance(target, str | os.PathLike):
            if writing:
                # A bare path gets a fresh file; a path with a group keeps the file's other
                # content (model weights, other preprocessors).
                mode = "a" if group is not None else "w"
            else:
                mode = "r"
            if mode == "r":
                from .io import open_hdf5

                self._file = open_hdf5(os.fspath(target), where)
            else:
                self._file = h5py.File(target, mode)
            base = self._file
        else:
            raise TypeError(
                f"{where}: expected a file path or an h5py.File/h5py.Group, "
                f"received {type(target).__name__}"
            )
        if group is None:
            self.group = base
        elif writing:
            self.group = base.require_group(group)
        else:
            filename = base.file.filename
            try:
                self.group = _hdf5.member(base, group, filename, where, kind="group")
            except ValueError:
                self.close()
                raise
            if self.group is None:
                self.close()
                raise ValueError(f"{where}: no group {group!r} in {filename!r}")

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self.group

    def __exit__(self, *exc_info):
        self.close()


# --------------------------------------------------------------------------------------------
# base class
# --------------------------------------------------------------------------------------------


class Preprocessor:
    """Base class of the preprocessors: input checks, batching and HDF5 state.

    A subclass lists its constructor arguments in ``_config_names`` and its fitted arrays in
    ``_state_names``, accumulates statistics in ``_fit_batches`` and maps one batch in
    ``_transform_batch`` (and ``_inverse_batch`` where an inverse exists).

    Parameters
    ----------
    dtype : str or numpy.dtype, default ``"float32"``
        Floating-point dtype of the outputs of ``transform`` and ``inverse_transform``.
    batch_size : int, default 1024
        Samples read, converted to float and processed at a time by ``fit``, ``transform`` and
        ``inverse_transform``; bounds the temporary memory.

    Attributes
    ----------
    feature_shape_ : tuple of int or None
        Shape of one sample seen by ``fit`` (``(C, H, W)`` or ``(D,)``); None before ``fit``.
    n_samples_seen_ : int
        Number of samples ``fit`` used (0 before ``fit``).
    """

    _config_names: ClassVar[tuple[str, ...]] = ("dtype", "batch_size")
    _state_names: ClassVar[tuple[str, ...]] = ()
    _registry: ClassVar[dict[str, type[Preprocessor]]] = {}
    #: whether ``transform`` may run before ``fit`` (stateless per-sample transforms)
    _needs_fit: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            Preprocessor._registry[cls.__name__] = cls

    def __init__(self, *, dtype: Any = "float32", batch_size: int = 1024):
        name = type(self).__name__
        self.dtype = _check_float_dtype(dtype, name)
        self.batch_size = _check_positive_int(batch_size, "batch_size", name)
        self.feature_shape_: tuple[int, ...] | None = None
        self.n_samples_seen_ = 0

    # -- public API ---------------------------------------------------------------------------

    @property
    def is_fitted(self) -> bool:
        """True once ``fit`` (or ``load`` of a fitted instance) has run."""
        return self.feature_shape_ is not None

    def fit(self, X: Any) -> Preprocessor:
        """Estimate the statistics of ``X`` (shape ``(N, ...)``) and return ``self``."""
        where = f"{type(self).__name__}.fit"
        X = _as_array_like(X, where)
        if X.shape[0] < self._min_samples():
            raise ValueError(
                f"{where}: expected at least {self._min_samples()} samples, "
                f"received shape {tuple(X.shape)}"
            )
        self._check_fit_shape(tuple(X.shape[1:]), where)
        self._fit_batches(X, where)
        self.feature_shape_ = tuple(int(d) for d in X.shape[1:])
        self.n_samples_seen_ = int(X.shape[0])
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Apply the fitted transform to ``X`` and return a new array of dtype ``self.dtype``."""
        where = f"{type(self).__name__}.transform"
        X = self._check_transform_input(X, where)
        out = np.empty((X.shape[0],) + self._output_shape(tuple(X.shape[1:])), self.dtype)
        for batch in _batches(X.shape[0], self.batch_size):
            out[batch] = self._transform_batch(np.asarray(X[batch]))
        return out

    def fit_transform(self, X: Any) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Y: Any) -> np.ndarray:
        """Map transformed data back to the input space (dtype ``self.dtype``)."""
        name = type(self).__name__
        where = f"{name}.inverse_transform"
        if not hasattr(self, "_inverse_batch"):
            raise TypeError(f"{where}: {name} has no inverse transform")
        self._require_fitted(where)
        Y = _as_array_like(Y, where)
        expected = self._output_shape(self.feature_shape_)
        if tuple(Y.shape[1:]) != expected:
            raise ValueError(
                f"{where}: expected transformed samples of shape {expected}, "
                f"received array of shape {tuple(Y.shape)}"
            )
        out = np.empty((Y.shape[0],) + self.feature_shape_, self.dtype)
        for batch in _batches(Y.shape[0], self.batch_size):
            out[batch] = self._inverse_batch(np.asarray(Y[batch]))
        return out

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-serialisable dict (``cls(**config)`` rebuilds it)."""
        config = {}
        for key in self._config_names:
            value = getattr(self, key)
            if isinstance(value, np.dtype):
                value = value.name
            config[key] = value
        return config

    def save(self, target: Any, group: str | None = None) -> None:
        """Write the configuration and fitted state to HDF5.

        Parameters
        ----------
        target : str, os.PathLike, h5py.File or h5py.Group
            A path (a bare path creates or overwrites the file) or an open HDF5 file or group.
        group : str, optional
            Name of a subgroup of ``target`` to write into, created if missing. With a path,
            the file is opened for appending, so other content (a model's weights) is kept.

        Notes
        -----
        The group gets the attributes ``convnet_format`` (``"convnet.preprocessing"``),
        ``format_version``, ``class`` (the class name), ``config`` (JSON of
        :meth:`get_config`), ``fitted``, ``feature_shape`` and ``n_samples_seen``, and one
        float64 dataset per fitted array (``mean``, ``scale``, ``components``...). Datasets
        of an earlier save to the same group are replaced.
        """
        where = f"{type(self).__name__}.save"
        if isinstance(target, str | os.PathLike):
            # Build the new file in memory (from the current one when only a group is
            # replaced) and put it in place atomically: a crash leaves the old file intact.
            import h5py

            from .io import atomic_write

            path = os.fspath(target)
            buf = _io.BytesIO()
            if group is not None and os.path.exists(path):
                with open(path, "rb") as f:
                    buf.write(f.read())
            with h5py.File(buf, "a" if buf.tell() else "w") as f:
                self.save(f, group)
            atomic_write(path, buf.getvalue())
            return
        with _OpenGroup(target, group, writing=True, where=where) as g:
            filename = str(g.file.filename)
            for key in json.loads(_hdf5.text_attr(g, "state_arrays", filename, where, "[]")):
                if key in g:
                    del g[key]
            _hdf5.write_text_attr(g, "convnet_format", _FORMAT)
            g.attrs["format_version"] = _FORMAT_VERSION
            _hdf5.write_text_attr(g, "class", type(self).__name__)
            _hdf5.write_text_attr(g, "config", json.dumps(self.get_config()))
            g.attrs["fitted"] = self.is_fitted
            _hdf5.write_text_attr(g, "feature_shape", json.dumps(self.feature_shape_))
            g.attrs["n_samples_seen"] = self.n_samples_seen_
            written = []
            if self.is_fitted:
                for key in self._state_names:
                    value = getattr(self, key + "_")
                    if value is not None:
                        g.create_dataset(key, data=np.asarray(value, np.float64))
                        written.append(key)
            _hdf5.write_text_attr(g, "state_arrays", json.dumps(written))

    @classmethod
    def load(cls, source: Any, group: str | None = None) -> Preprocessor:
        """Read a preprocessor written by :meth:`save`.

        ``Preprocessor.load`` returns whichever class was saved; ``ZCAWhitening.load`` (any
        subclass) also checks that the group holds that class.

        Parameters
        ----------
        source : str, os.PathLike, h5py.File or h5py.Group
        group : str, optional
            Subgroup of ``source`` to read from.
        """
        where = f"{cls.__name__}.load"
        with _OpenGroup(source, group, writing=False, where=where) as g:
            filename = str(g.file.filename)
            with _hdf5.damaged(filename, where):
                obj = cls._load_group(g, filename, where)
        return obj

    @classmethod
    def _load_group(cls, g: Any, filename: str, where: str) -> Preprocessor:
        """:meth:`load` from an open group (of ``filename``)."""
        found = _hdf5.text_attr(g, "convnet_format", filename, where)
        if found != _FORMAT:
            raise ValueError(
                f"{where}: HDF5 group {g.name!r} of {filename!r} holds no convnet preprocessor "
                f"(attribute convnet_format is {found!r}, expected {_FORMAT!r})"
            )
        version = _hdf5.int_attr(g, "format_version", filename, where, -1)
        if version > _FORMAT_VERSION:
            raise ValueError(
                f"{where}: HDF5 group {g.name!r} of {filename!r} has format_version {version}; "
                f"this convnet reads versions up to {_FORMAT_VERSION}"
            )
        class_name = _hdf5.text_attr(g, "class", filename, where, "")
        klass = Preprocessor._registry.get(class_name)
        if klass is None:
            raise ValueError(
                f"{where}: HDF5 group {g.name!r} of {filename!r} holds unknown preprocessor class "
                f"{class_name[:60]!r}; known: {', '.join(sorted(Preprocessor._registry))}"
            )
        if not issubclass(klass, cls):
            raise ValueError(
                f"{where}: HDF5 group {g.name!r} of {filename!r} holds a {class_name}, not a "
                f"{cls.__name__}; "
                f"use {class_name}.load or Preprocessor.load"
            )
        config = _json_attr(g, "config", filename, where, dict)
        try:
            obj = klass(**config)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{where}: {filename!r}: the saved configuration of the {class_name} is "
                f"invalid ({exc})"
            ) from None
        fitted = _hdf5.int_attr(g, "fitted", filename, where)
        seen = _hdf5.int_attr(g, "n_samples_seen", filename, where)
        for name, value in (("fitted", fitted), ("n_samples_seen", seen)):
            if value is None:
                raise ValueError(f"{where}: {filename!r} is damaged: attribute {name!r} is missing")
        if fitted not in (0, 1):
            raise ValueError(
                f"{where}: {filename!r}: attribute 'fitted' should be 0 or 1, found {fitted}"
            )
        feature_shape = _json_attr(g, "feature_shape", filename, where, (list, type(None)))
        names = _json_attr(g, "state_arrays", filename, where, list)
        if not fitted:
            _check_unfitted(g, klass, feature_shape, seen, names, filename, where)
            return obj
        if seen < 1:
            raise ValueError(
                f"{where}: {filename!r}: its {class_name} is flagged as fitted on {seen} samples; "
                "it is damaged"
            )
        if feature_shape is None or not (
            1 <= len(feature_shape) <= 8
            and all(type(d) is int and d >= 1 for d in feature_shape)
            and int(np.prod(feature_shape, dtype=object)) <= 2**31
        ):
            raise ValueError(
                f"{where}: {filename!r}: attribute 'feature_shape' should list 1 to 8 "
                f"positive sizes, found {str(feature_shape)[:80]}"
            )
        feature_shape = tuple(feature_shape)
        listed = sorted(names) if all(isinstance(n, str) for n in names) else None
        if listed != sorted(klass._state_names):
            lacking = [k for k in klass._state_names if k not in names]
            raise ValueError(
                f"{where}: {filename!r} is damaged: a fitted {class_name} has the state arrays "
                f"{list(klass._state_names)}, the file lists {str(names)[:80]}"
                + (f"; it lacks {lacking}" if lacking else "")
            )
        datasets = {key: _hdf5.member(g, key, filename, where, kind="dataset") for key in names}
        if any(ds is None for ds in datasets.values()):
            missing = [k for k, ds in datasets.items() if ds is None]
            raise ValueError(f"{where}: {filename!r} is damaged: it lacks {missing}")
        headers = {
            k: _hdf5.checked_dataset(ds, filename, where, check_size=False)[0]
            for k, ds in datasets.items()
        }
        expected = obj._state_shapes(feature_shape, headers)
        state = {}
        for key, ds in datasets.items():
            want = expected.get(key)
            if want is None or headers[key] != want:
                raise ValueError(
                    f"{where}: {filename!r}: state array {key!r} of a {class_name} for "
                    f"samples of shape {feature_shape} should have shape {want}, the "
                    f"file has {headers[key]}"
                )
            state[key] = _hdf5.read_dataset(ds, filename, where, want)
        obj.feature_shape_ = feature_shape
        obj.n_samples_seen_ = seen
        try:
            obj._set_state(state)
        except ValueError as exc:
            raise ValueError(f"{where}: {filename!r}: its state is invalid ({exc})") from None
        return obj

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    # -- hooks and helpers for subclasses ------------------------------------------------------

    def _min_samples(self) -> int:
        return 1

    def _check_fit_shape(self, feature_shape: tuple[int, ...], where: str) -> None:
        """Subclasses reject feature shapes they cannot handle."""

    def _output_shape(self, feature_shape: tuple[int, ...]) -> tuple[int, ...]:
        return feature_shape

    def _state_shapes(
        self, feature_shape: tuple[int, ...], stored: dict[str, tuple[int, ...]]
    ) -> dict[str, tuple[int, ...]]:
        """The shape each state array must have for samples of ``feature_shape``.

        ``stored`` holds the shapes the file declares (for sizes the fit chose, such as a
        PCA's number of components). Used by :meth:`load` before anything is read.
        """
        return {}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        for key in self._state_names:
            setattr(self, key + "_", state.get(key))

    def _require_fitted(self, where: str) -> None:
        if not self.is_fitted:
            name = type(self).__name__
            raise ValueError(
                f"{where}: this {name} is not fitted yet; call fit(X) first "
                f"(or {name}.load(...) a fitted one)"
            )

    def _check_transform_input(self, X: Any, where: str) -> Any:
        if self._needs_fit:
            self._require_fitted(where)
        X = _as_array_like(X, where)
        shape = tuple(X.shape[1:])
        if self.is_fitted and shape != self.feature_shape_:
            raise ValueError(
                f"{where}: expected samples of shape {self.feature_shape_} "
                f"({int(np.prod(self.feature_shape_))} features, as seen by fit), "
                f"received array of shape {tuple(X.shape)} "
                f"({int(np.prod(shape))} features per sample)"
            )
        return X

    def _compute_dtype(self) -> np.dtype:
        """float32 arithmetic for float16/float32 outputs, float64 for float64 outputs."""
        return np.promote_types(self.dtype, np.float32)


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

    def _fit_batches(self, X: Any, where: str) -> None:
        axes = self._pooled_axes(X.ndim)
        count = 0
        mean = m2 = None
        # Chan et al.'s pairwise update of (count, mean, sum of squared deviations), in float64.
        for batch in _batches(X.shape[0], self.batch_size):
            b = _finite_float64(X[batch], where)
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

    def _fit_batches(self, X: Any, where: str) -> None:
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


# --------------------------------------------------------------------------------------------
# PCA and ZCA
# --------------------------------------------------------------------------------------------


def _covariance(X: Any, batch_size: int, where: str) -> tuple[np.ndarray, np.ndarray]:
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
                chunk = _finite_float64(raw[start : start + step], where)
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

    def _fit_batches(self, X: Any, where: str) -> None:
        mean, cov = _covariance(X, self.batch_size, where)
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

    def _check_fit_shape(self, feature_shape: tuple[int, ...], where: str) -> None:
        d = int(np.prod(feature_shape))
        if isinstance(self.n_components, int) and self.n_components > d:
            raise ValueError(
                f"{where}: n_components={self.n_components} exceeds the number of features "
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
