"""The preprocessors' contract: argument and input checks, batching, the base class.

:class:`Preprocessor` holds everything but the statistics: ``fit``/``transform`` in
batches, ``inverse_transform``, the configuration, and ``save``/``load`` to HDF5 (through
``_file``). Subclasses (``_standardization``, ``_pca``) say what to accumulate and how to
map one batch.
"""

from __future__ import annotations

import io as _io
import json
import os
from typing import Any, ClassVar

import numpy as np

from .. import _hdf5
from ._file import _FORMAT, _FORMAT_VERSION, _check_unfitted, _json_attr, _OpenGroup

# --------------------------------------------------------------------------------------------
# argument checking
# --------------------------------------------------------------------------------------------


def _check_float_dtype(dtype: Any, caller: str) -> np.dtype:
    try:
        result = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(
            f"{caller}: argument dtype: expected a floating-point dtype such as 'float32', "
            f"received {dtype!r}"
        ) from exc
    if result.kind != "f":
        raise TypeError(
            f"{caller}: argument dtype: expected a floating-point dtype such as 'float32', "
            f"received {result.name!r}"
        )
    return result


def _check_positive_int(value: Any, name: str, caller: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"{caller}: argument {name}: expected a positive integer, received {value!r}"
        )
    return int(value)


def _check_nonnegative(value: Any, name: str, caller: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{caller}: argument {name}: expected a number >= 0, received {value!r}")
    value = float(value)
    if not value >= 0.0 or not np.isfinite(value):
        raise ValueError(
            f"{caller}: argument {name}: expected a finite number >= 0, received {value!r}"
        )
    return value


def _as_array_like(X: Any, caller: str) -> Any:
    """Return ``X`` if it behaves like an array (shape, ndim, dtype, slicing), else ``asarray``.

    Arrays are not copied: ``h5py`` datasets and memmaps are read batch by batch later.
    """
    if not all(hasattr(X, attr) for attr in ("shape", "ndim", "dtype", "__getitem__")):
        X = np.asarray(X)
    if X.dtype.kind not in "uif":
        raise TypeError(
            f"{caller}: expected a real numeric array (unsigned or signed integers such as uint8, "
            f"or floats), received dtype {X.dtype}"
        )
    if X.ndim < 2:
        raise ValueError(
            f"{caller}: expected an array of shape (N, C, H, W) or (N, D) (samples first), "
            f"received shape {tuple(X.shape)}"
        )
    return X


def _finite_float64(batch: Any, caller: str) -> np.ndarray:
    """A float64 copy of ``batch``; floating input is checked for NaN and infinity."""
    batch = np.asarray(batch)
    result = batch.astype(np.float64)
    if batch.dtype.kind == "f" and not np.all(np.isfinite(result)):
        raise ValueError(f"{caller}: the input contains NaN or infinity")
    return result


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


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
        caller = f"{type(self).__name__}.fit"
        X = _as_array_like(X, caller)
        if X.shape[0] < self._min_samples():
            raise ValueError(
                f"{caller}: expected at least {self._min_samples()} samples, "
                f"received shape {tuple(X.shape)}"
            )
        self._check_fit_shape(tuple(X.shape[1:]), caller)
        self._fit_batches(X, caller)
        self.feature_shape_ = tuple(int(d) for d in X.shape[1:])
        self.n_samples_seen_ = int(X.shape[0])
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Apply the fitted transform to ``X`` and return a new array of dtype ``self.dtype``."""
        caller = f"{type(self).__name__}.transform"
        X = self._check_transform_input(X, caller)
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
        caller = f"{name}.inverse_transform"
        if not hasattr(self, "_inverse_batch"):
            raise TypeError(f"{caller}: {name} has no inverse transform")
        self._require_fitted(caller)
        Y = _as_array_like(Y, caller)
        expected = self._output_shape(self.feature_shape_)
        if tuple(Y.shape[1:]) != expected:
            raise ValueError(
                f"{caller}: expected transformed samples of shape {expected}, "
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
        caller = f"{type(self).__name__}.save"
        if isinstance(target, str | os.PathLike):
            # Build the new file in memory (from the current one when only a group is
            # replaced) and put it in place atomically: a crash leaves the old file intact.
            import h5py

            path = os.fspath(target)
            buf = _io.BytesIO()
            if group is not None and os.path.exists(path):
                with open(path, "rb") as f:
                    buf.write(f.read())
            with h5py.File(buf, "a" if buf.tell() else "w") as f:
                self.save(f, group)
            _hdf5.atomic_write(path, buf.getvalue())
            return
        with _OpenGroup(target, group, writing=True, caller=caller) as g:
            filename = str(g.file.filename)
            for key in json.loads(_hdf5.text_attr(g, "state_arrays", filename, caller, "[]")):
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
        caller = f"{cls.__name__}.load"
        with _OpenGroup(source, group, writing=False, caller=caller) as g:
            filename = str(g.file.filename)
            with _hdf5.damaged(filename, caller):
                obj = cls._load_group(g, filename, caller)
        return obj

    @classmethod
    def _load_group(cls, g: Any, filename: str, caller: str) -> Preprocessor:
        """:meth:`load` from an open group (of ``filename``)."""
        found = _hdf5.text_attr(g, "convnet_format", filename, caller)
        if found != _FORMAT:
            raise ValueError(
                f"{caller}: HDF5 group {g.name!r} of {filename!r} holds no convnet preprocessor "
                f"(attribute convnet_format is {found!r}, expected {_FORMAT!r})"
            )
        version = _hdf5.int_attr(g, "format_version", filename, caller, -1)
        if version > _FORMAT_VERSION:
            raise ValueError(
                f"{caller}: HDF5 group {g.name!r} of {filename!r} has format_version {version}; "
                f"this convnet reads versions up to {_FORMAT_VERSION}"
            )
        class_name = _hdf5.text_attr(g, "class", filename, caller, "")
        klass = Preprocessor._registry.get(class_name)
        if klass is None:
            raise ValueError(
                f"{caller}: HDF5 group {g.name!r} of {filename!r} holds unknown preprocessor class "
                f"{class_name[:60]!r}; known: {', '.join(sorted(Preprocessor._registry))}"
            )
        if not issubclass(klass, cls):
            raise ValueError(
                f"{caller}: HDF5 group {g.name!r} of {filename!r} holds a {class_name}, not a "
                f"{cls.__name__}; "
                f"use {class_name}.load or Preprocessor.load"
            )
        config = _json_attr(g, "config", filename, caller, dict)
        try:
            obj = klass(**config)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{caller}: {filename!r}: the saved configuration of the {class_name} is "
                f"invalid ({exc})"
            ) from None
        fitted = _hdf5.int_attr(g, "fitted", filename, caller)
        seen = _hdf5.int_attr(g, "n_samples_seen", filename, caller)
        for name, value in (("fitted", fitted), ("n_samples_seen", seen)):
            if value is None:
                raise ValueError(
                    f"{caller}: {filename!r} is damaged: attribute {name!r} is missing"
                )
        if fitted not in (0, 1):
            raise ValueError(
                f"{caller}: {filename!r}: attribute 'fitted' should be 0 or 1, found {fitted}"
            )
        feature_shape = _json_attr(g, "feature_shape", filename, caller, (list, type(None)))
        names = _json_attr(g, "state_arrays", filename, caller, list)
        if not fitted:
            _check_unfitted(g, klass, feature_shape, seen, names, filename, caller)
            return obj
        if seen < 1:
            raise ValueError(
                f"{caller}: {filename!r}: its {class_name} is flagged as fitted on {seen} samples; "
                "it is damaged"
            )
        if feature_shape is None or not (
            1 <= len(feature_shape) <= 8
            and all(type(d) is int and d >= 1 for d in feature_shape)
            and int(np.prod(feature_shape, dtype=object)) <= 2**31
        ):
            raise ValueError(
                f"{caller}: {filename!r}: attribute 'feature_shape' should list 1 to 8 "
                f"positive sizes, found {str(feature_shape)[:80]}"
            )
        feature_shape = tuple(feature_shape)
        listed = sorted(names) if all(isinstance(n, str) for n in names) else None
        if listed != sorted(klass._state_names):
            lacking = [k for k in klass._state_names if k not in names]
            raise ValueError(
                f"{caller}: {filename!r} is damaged: a fitted {class_name} has the state arrays "
                f"{list(klass._state_names)}, the file lists {str(names)[:80]}"
                + (f"; it lacks {lacking}" if lacking else "")
            )
        datasets = {key: _hdf5.member(g, key, filename, caller, kind="dataset") for key in names}
        if any(ds is None for ds in datasets.values()):
            missing = [k for k, ds in datasets.items() if ds is None]
            raise ValueError(f"{caller}: {filename!r} is damaged: it lacks {missing}")
        headers = {
            k: _hdf5.checked_dataset(ds, filename, caller, check_size=False)[0]
            for k, ds in datasets.items()
        }
        expected = obj._state_shapes(feature_shape, headers)
        state = {}
        for key, ds in datasets.items():
            want = expected.get(key)
            if want is None or headers[key] != want:
                raise ValueError(
                    f"{caller}: {filename!r}: state array {key!r} of a {class_name} for "
                    f"samples of shape {feature_shape} should have shape {want}, the "
                    f"file has {headers[key]}"
                )
            state[key] = _hdf5.read_dataset(ds, filename, caller, want)
        obj.feature_shape_ = feature_shape
        obj.n_samples_seen_ = seen
        try:
            obj._set_state(state)
        except ValueError as exc:
            raise ValueError(f"{caller}: {filename!r}: its state is invalid ({exc})") from None
        return obj

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    # -- hooks and helpers for subclasses ------------------------------------------------------

    def _min_samples(self) -> int:
        return 1

    def _check_fit_shape(self, feature_shape: tuple[int, ...], caller: str) -> None:
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

    def _require_fitted(self, caller: str) -> None:
        if not self.is_fitted:
            name = type(self).__name__
            raise ValueError(
                f"{caller}: this {name} is not fitted yet; call fit(X) first "
                f"(or {name}.load(...) a fitted one)"
            )

    def _check_transform_input(self, X: Any, caller: str) -> Any:
        if self._needs_fit:
            self._require_fitted(caller)
        X = _as_array_like(X, caller)
        shape = tuple(X.shape[1:])
        if self.is_fitted and shape != self.feature_shape_:
            raise ValueError(
                f"{caller}: expected samples of shape {self.feature_shape_} "
                f"({int(np.prod(self.feature_shape_))} features, as seen by fit), "
                f"received array of shape {tuple(X.shape)} "
                f"({int(np.prod(shape))} features per sample)"
            )
        return X

    def _compute_dtype(self) -> np.dtype:
        """float32 arithmetic for float16/float32 outputs, float64 for float64 outputs."""
        return np.promote_types(self.dtype, np.float32)
