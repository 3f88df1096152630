"""Initializers: callables that return initial parameter values for a given shape.

Every initializer draws from :func:`convnet.random.get_rng` and returns a NumPy array of
dtype ``pytensor.config.floatX``. Layers accept an initializer, an array or a PyTensor
expression wherever they take a parameter (see :func:`convnet.utils.create_param`).

For the fan-based schemes (Glorot, He), a weight of shape ``(n1, n2, *receptive_field)``
has fan-in ``n1 * prod(receptive_field)`` for dense weights ``(num_inputs, num_units)`` and
``n2 * prod(receptive_field)`` for convolution filters ``(num_filters, num_channels, *k)``,
following Lasagne.
"""

from __future__ import annotations

import numpy as np

from ._errors import ShapeError
from ._types import IntOrTuple
from .random import get_rng
from .utils import floatX

__all__ = [
    "Initializer",
    "Normal",
    "Uniform",
    "Glorot",
    "GlorotNormal",
    "GlorotUniform",
    "He",
    "HeNormal",
    "HeUniform",
    "Constant",
    "Sparse",
    "Orthogonal",
]


def _shape_tuple(shape: IntOrTuple) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        return (int(shape),)


class Initializer:
    """Base class for initializers: ``init(shape)`` returns ``init.sample(shape)``.

    Subclasses implement :meth:`sample`.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.init import Initializer
    >>> class Ramp(Initializer):
    ...     def sample(self, shape):
    ...         return np.arange(np.prod(shape), dtype=float).reshape(shape)
    >>> Ramp()((2, 2))
    array([[0., 1.],
           [2., 3.]])
    """

    def __call__(self, shape: IntOrTuple) -> np.ndarray:
        return self.sample(shape)

    def sample(self, shape: IntOrTuple) -> np.ndarray:
        """Return an array of the given shape with initial values.

        Parameters
        ----------
        shape : tuple of int
            The shape of the array.

        Returns
        -------
        numpy.ndarray
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement sample()")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Normal(Initializer):
    """Sample from a normal distribution :math:`\\mathcal{N}(\\text{mean}, \\text{std}^2)`.

    Parameters
    ----------
    std : float
        Standard deviation (default 0.01).
    mean : float
        Mean (default 0).

    Examples
    --------
    >>> from convnet.init import Normal
    >>> Normal(std=0.1)((3, 4)).shape
    (3, 4)
    """

    def __init__(self, std: float = 0.01, mean: float = 0.0):
        self.std = std
        self.mean = mean

    def sample(self, shape):
        return floatX(get_rng().normal(self.mean, self.std, size=shape))


class Uniform(Initializer):
    """Sample from a uniform distribution.

    Parameters
    ----------
    range : float or (float, float)
        ``r`` means the interval :math:`[-r, r]`; a pair ``(a, b)`` means :math:`[a, b]`.
        Default 0.01. Ignored if ``std`` is given.
    std : float, optional
        If given, the interval is :math:`[\\text{mean} - \\sqrt{3}\\,\\text{std},
        \\text{mean} + \\sqrt{3}\\,\\text{std}]`, which has this standard deviation.
    mean : float
        Centre of the interval when ``std`` is given (default 0).

    Examples
    --------
    >>> from convnet.init import Uniform
    >>> w = Uniform(range=(2.0, 3.0))((100,))
    >>> bool(((w >= 2) & (w <= 3)).all())
    True
    """

    def __init__(
        self,
        range: float | tuple[float, float] = 0.01,
        std: float | None = None,
        mean: float = 0.0,
    ):
        if std is not None:
            a = mean - np.sqrt(3) * std
            b = mean + np.sqrt(3) * std
        else:
            try:
                a, b = range
            except TypeError:
                a, b = -range, range
        self.range = (a, b)

    def sample(self, shape):
        return floatX(get_rng().uniform(low=self.range[0], high=self.range[1], size=shape))


def _gain(gain: float | str, *, caller: str) -> float:
    if gain == "relu":
        return float(np.sqrt(2))
    if isinstance(gain, str):
        raise ValueError(f"{caller}: gain: expected a number or 'relu', received {gain!r}")
    return gain


class _FanScaled:
    """What :class:`Glorot` and :class:`He` share: samples of ``initializer`` whose standard
    deviation is ``gain`` times a scale that :meth:`_scale` computes from the weight's
    shape (4 entries ``(c, 0, 1, b)`` with ``c01b``, else at least 2).

    A mixin, not an :class:`Initializer` subclass: Glorot and He stay direct subclasses of
    Initializer, with their Normal/Uniform variants below them, as in Lasagne (code that
    walks ``Initializer.__subclasses__()`` instantiates the leaves without arguments)."""

    def __init__(self, initializer: type[Initializer], gain: float | str = 1.0, c01b: bool = False):
        self.initializer = initializer
        self.gain = _gain(gain, caller=type(self).__name__)
        self.c01b = c01b

    def sample(self, shape: IntOrTuple) -> np.ndarray:
        shape = _shape_tuple(shape)
        caller = type(self).__name__
        if self.c01b and len(shape) != 4:
            raise ShapeError(
                f"{caller} with c01b=True: expected a shape of length 4, received {shape}"
            )
        if not self.c01b and len(shape) < 2:
            raise ShapeError(f"{caller}: expected a shape of length >= 2, received {shape}")
        std = self.gain * self._scale(shape)
        return self.initializer(std=std).sample(shape)

    def _scale(self, shape: tuple[int, ...]) -> float:
        raise NotImplementedError


class Glorot(_FanScaled, Initializer):
    """Glorot (Xavier) initialization with a given distribution.

    The standard deviation is
    :math:`\\text{gain}\\sqrt{2 / ((n_1 + n_2)\\,r)}` for a weight of shape
    ``(n1, n2, *receptive_field)`` with ``r = prod(receptive_field)`` (or, with
    ``c01b=True``, shape ``(n1, k0, k1, n2)``).

    Parameters
    ----------
    initializer : class
        :class:`Normal` or :class:`Uniform`; called as ``initializer(std=std)``.
    gain : float or 'relu'
        Scaling factor; ``'relu'`` means :math:`\\sqrt{2}`.
    c01b : bool
        Whether the weight has the channels-first-last layout ``(c, 0, 1, b)``.

    References
    ----------
    Xavier Glorot and Yoshua Bengio (2010): Understanding the difficulty of training
    deep feedforward neural networks. AISTATS.

    Examples
    --------
    >>> from convnet.init import Glorot, Normal
    >>> Glorot(Normal, gain="relu")((20, 30)).shape
    (20, 30)
    """

    def _scale(self, shape: tuple[int, ...]) -> float:
        if self.c01b:
            n1, n2 = shape[0], shape[3]
            receptive_field_size = shape[1] * shape[2]
        else:
            n1, n2 = shape[:2]
            receptive_field_size = int(np.prod(shape[2:]))
        return np.sqrt(2.0 / ((n1 + n2) * receptive_field_size))


class GlorotNormal(Glorot):
    """Glorot initialization with normal samples (see :class:`Glorot`).

    Examples
    --------
    >>> from convnet.init import GlorotNormal
    >>> GlorotNormal()((16, 3, 3, 3)).shape
    (16, 3, 3, 3)
    """

    def __init__(self, gain: float | str = 1.0, c01b: bool = False):
        super().__init__(Normal, gain, c01b)


class GlorotUniform(Glorot):
    """Glorot initialization with uniform samples (see :class:`Glorot`).

    The interval is :math:`\\pm\\text{gain}\\sqrt{6 / ((n_1 + n_2) r)}`.
    The default initializer of the weights of dense and convolution layers.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.init import GlorotUniform
    >>> w = GlorotUniform()((30, 20))
    >>> bool(np.abs(w).max() <= np.sqrt(6 / 50))
    True
    """

    def __init__(self, gain: float | str = 1.0, c01b: bool = False):
        super().__init__(Uniform, gain, c01b)


class He(_FanScaled, Initializer):
    """He (Kaiming) initialization with a given distribution.

    The standard deviation is :math:`\\text{gain}\\sqrt{1 / \\text{fan\\_in}}`, where
    fan-in is ``shape[0]`` for a 2-d weight ``(num_inputs, num_units)``,
    ``prod(shape[1:])`` for a convolution filter and ``prod(shape[:3])`` with ``c01b``.

    Parameters
    ----------
    initializer : class
        :class:`Normal` or :class:`Uniform`.
    gain : float or 'relu'
        Scaling factor; ``'relu'`` means :math:`\\sqrt{2}`.
    c01b : bool
        Whether the weight has the layout ``(c, 0, 1, b)``.

    References
    ----------
    Kaiming He et al. (2015): Delving deep into rectifiers: Surpassing human-level
    performance on ImageNet classification. ICCV.

    Examples
    --------
    >>> from convnet.init import He, Uniform
    >>> He(Uniform, gain="relu")((8, 4, 3, 3)).shape
    (8, 4, 3, 3)
    """

    def _scale(self, shape: tuple[int, ...]) -> float:
        if self.c01b:
            fan_in = int(np.prod(shape[:3]))
        elif len(shape) == 2:
            fan_in = shape[0]
        else:
            fan_in = int(np.prod(shape[1:]))
        return np.sqrt(1.0 / fan_in)


class HeNormal(He):
    """He initialization with normal samples (see :class:`He`).

    Examples
    --------
    >>> from convnet.init import HeNormal
    >>> HeNormal(gain="relu")((50, 10)).dtype.kind
    'f'
    """

    def __init__(self, gain: float | str = 1.0, c01b: bool = False):
        super().__init__(Normal, gain, c01b)


class HeUniform(He):
    """He initialization with uniform samples (see :class:`He`).

    Examples
    --------
    >>> from convnet.init import HeUniform
    >>> HeUniform()((50, 10)).shape
    (50, 10)
    """

    def __init__(self, gain: float | str = 1.0, c01b: bool = False):
        super().__init__(Uniform, gain, c01b)


class Constant(Initializer):
    """Fill the array with a constant value.

    Parameters
    ----------
    val : float
        The value (default 0).

    Examples
    --------
    >>> from convnet.init import Constant
    >>> Constant(0.5)((2,))
    array([0.5, 0.5])
    """

    def __init__(self, val: float = 0.0):
        self.val = val

    def sample(self, shape):
        return floatX(np.ones(shape) * self.val)


class Sparse(Initializer):
    """A 2-d weight with a fixed fraction of nonzero normal entries per column.

    Each of the ``shape[1]`` columns gets ``int(sparsity * shape[0])`` entries drawn from
    :math:`\\mathcal{N}(0, \\text{std}^2)` at random rows; the rest are 0.

    Parameters
    ----------
    sparsity : float
        Fraction of nonzero entries per column (default 0.1).
    std : float
        Standard deviation of the nonzero entries (default 0.01).

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.init import Sparse
    >>> w = Sparse(sparsity=0.25)((8, 3))
    >>> (w != 0).sum(axis=0).tolist()
    [2, 2, 2]
    """

    def __init__(self, sparsity: float = 0.1, std: float = 0.01):
        self.sparsity = sparsity
        self.std = std

    def sample(self, shape):
        shape = _shape_tuple(shape)
        if len(shape) != 2:
            raise ShapeError(f"Sparse: expected a shape of length 2, received {shape}")
        w = floatX(np.zeros(shape))
        n_inputs, n_outputs = shape
        size = int(self.sparsity * n_inputs)
        rng = get_rng()
        for k in range(n_outputs):
            indices = np.arange(n_inputs)
            rng.shuffle(indices)
            indices = indices[:size]
            w[indices, k] = floatX(rng.normal(0.0, self.std, size=size))
        return w


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix, reshaped to the requested shape.

    The weight, flattened to ``(shape[0], prod(shape[1:]))``, has orthonormal rows or
    columns (whichever are fewer), times ``gain``.

    Parameters
    ----------
    gain : float or 'relu'
        Scaling factor; ``'relu'`` means :math:`\\sqrt{2}`.

    References
    ----------
    Andrew M. Saxe et al. (2014): Exact solutions to the nonlinear dynamics of
    learning in deep linear neural networks. ICLR.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.init import Orthogonal
    >>> q = Orthogonal()((4, 4))
    >>> bool(np.allclose(q @ q.T, np.eye(4)))
    True
    """

    def __init__(self, gain: float | str = 1.0):
        self.gain = _gain(gain, caller="Orthogonal")

    def sample(self, shape):
        shape = _shape_tuple(shape)
        if len(shape) < 2:
            raise ShapeError(f"Orthogonal: expected a shape of length >= 2, received {shape}")
        flat_shape = (shape[0], int(np.prod(shape[1:])))
        a = get_rng().normal(0.0, 1.0, flat_shape)
        u, _, v = np.linalg.svd(a, full_matrices=False)
        q = u if u.shape == flat_shape else v
        q = q.reshape(shape)
        return floatX(self.gain * q)
