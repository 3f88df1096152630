"""Elementwise activation functions (Lasagne's ``nonlinearities``, plus GELU and swish).

Each is a callable mapping a PyTensor expression to one of the same shape and dtype (a
float32 input gives a float32 output: constants are cast to the input's dtype). Pass one
as a layer's ``nonlinearity``, e.g. ``DenseLayer(l, 10, nonlinearity=softmax)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as T

from ._types import TensorLike

__all__ = [
    "sigmoid",
    "softmax",
    "tanh",
    "ScaledTanH",
    "ScaledTanh",
    "rectify",
    "LeakyRectify",
    "leaky_rectify",
    "very_leaky_rectify",
    "elu",
    "SELU",
    "selu",
    "softplus",
    "linear",
    "identity",
    "gelu",
    "swish",
]


def _tensor(x: TensorLike) -> T.TensorVariable:
    return T.as_tensor_variable(x)


def _const(value: float, x) -> Any:
    """``value`` as a constant of ``x``'s dtype (float inputs), so float32 stays float32."""
    if isinstance(value, (int, float, np.number)) and str(x.dtype).startswith("float"):
        return np.asarray(value, dtype=x.dtype)
    return value


def _name(obj: Any) -> str:
    return getattr(obj, "__name__", None) or repr(obj)


def sigmoid(x):
    """Sigmoid: :math:`\\varphi(x) = 1 / (1 + e^{-x})`, in :math:`(0, 1)`.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.nonlinearities import sigmoid
    >>> sigmoid(np.array([0.0])).eval(mode="FAST_COMPILE")
    array([0.5])
    """
    return T.sigmoid(_tensor(x))


def softmax(x):
    """Softmax over the last axis: :math:`\\varphi(x)_j = e^{x_j} / \\sum_k e^{x_k}`.

    Lasagne (Theano) applied it to the rows of a 2-d input ``(batch, classes)``; convnet
    normalizes over the last axis of an input of any rank, which is the same for 2-d.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.nonlinearities import softmax
    >>> softmax(np.log([[1.0, 3.0]])).eval(mode="FAST_COMPILE")
    array([[0.25, 0.75]])
    """
    return T.special.softmax(_tensor(x), axis=-1)


def tanh(x):
    """Hyperbolic tangent: :math:`\\varphi(x) = \\tanh(x)`, in :math:`(-1, 1)`.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.nonlinearities import tanh
    >>> tanh(np.array([0.0])).eval(mode="FAST_COMPILE")
    array([0.])
    """
    return T.tanh(_tensor(x))


class ScaledTanH:
    """Scaled hyperbolic tangent: :math:`\\varphi(x) = b \\tanh(a x)`.

    Parameters
    ----------
    scale_in : float
        :math:`a`, the input scale (default 1).
    scale_out : float
        :math:`b`, the output scale (default 1).

    Notes
    -----
    LeCun et al. (1998) recommend :math:`a = 2/3`, :math:`b = 1.7159`.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.nonlinearities import ScaledTanH
    >>> f = ScaledTanH(scale_in=0.5, scale_out=2.0)
    >>> bool(np.isclose(f(np.array([2.0])).eval(mode="FAST_COMPILE")[0], 2 * np.tanh(1.0)))
    True
    """

    def __init__(self, scale_in: float = 1, scale_out: float = 1):
        self.scale_in = scale_in
        self.scale_out = scale_out

    def __call__(self, x):
        x = _tensor(x)
        return T.tanh(x * _const(self.scale_in, x)) * _const(self.scale_out, x)

    def __repr__(self) -> str:
        return f"ScaledTanH(scale_in={self.scale_in!r}, scale_out={self.scale_out!r})"


ScaledTanh = ScaledTanH


def rectify(x):
    """Rectifier (ReLU): :math:`\\varphi(x) = \\max(0, x)`.

    Computed as ``switch(x > 0, x, 0)``, so its derivative at exactly 0 is 0 (the
    convention of PyTorch and JAX; Theano's ``relu`` used 0.5 there). A NumPy array gives
    a NumPy array of its dtype (as in Lasagne); anything else a PyTensor expression.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as T
    >>> from convnet.nonlinearities import rectify
    >>> rectify(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    >>> rectify(T.as_tensor_variable(np.array([-1.0, 2.0]))).eval(mode="FAST_COMPILE")
    array([0., 2.])
    """
    if isinstance(x, np.ndarray):
        return np.where(x > 0, x, np.zeros_like(x))
    x = _tensor(x)
    return T.switch(T.gt(x, 0), x, T.zeros_like(x))


class LeakyRectify:
    """Leaky rectifier: :math:`\\varphi(x) = x` for :math:`x > 0`, else :math:`\\alpha x`.

    Parameters
    ----------
    leakiness : float
        :math:`\\alpha`, the slope for negative inputs (default 0.01).

    Notes
    -----
    A NumPy array gives a NumPy array of its dtype (as in Lasagne); anything else a
    PyTensor expression.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.nonlinearities import LeakyRectify
    >>> LeakyRectify(0.1)(np.array([-2.0, 3.0]))
    array([-0.2,  3. ])
    """

    def __init__(self, leakiness: float = 0.01):
        self.leakiness = leakiness

    def __call__(self, x):
        if isinstance(x, np.ndarray):
            return np.where(x > 0, x, x * _const(self.leakiness, x))
        x = _tensor(x)
        return T.switch(T.gt(x, 0), x, x * _const(self.leakiness, x))

    def __repr__(self) -> str:
        return f"LeakyRectify(leakiness={self.leakiness!r})"


#: :class:`LeakyRectify` with leakiness 0.01.
leaky_rectify = LeakyRectify()
#: :class:`LeakyRectify` with leakiness 1/3.
very_leaky_rectify = LeakyRectify(1.0 / 3)


def elu(x):
    """Exponential linear unit: :math:`\\varphi(x) = x` for :math:`x > 0`, else
    :math:`e^x - 1`.

    References
    ----------
    Djork-Arne Clevert, Thomas Unterthiner, Sepp Hochreiter (2015): Fast and
    accurate deep network learning by exponential linear units (ELUs).

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.nonlinearities import elu
    >>> elu(np.array([0.0, 1.0])).eval(mode="FAST_COMPILE")
    array([0., 1.])
    """
    x = _tensor(x)
    return T.switch(T.gt(x, 0), x, T.expm1(x))


class SELU:
    """Scaled exponential linear unit:
    :math:`\\varphi(x) = \\lambda x` for :math:`x > 0`, else
    :math:`\\lambda \\alpha (e^x - 1)`.

    Parameters
    ----------
    scale : float
        :math:`\\lambda` (default 1).
    scale_neg : float
        :math:`\\alpha` (default 1).

    References
    ----------
    Guenter Klambauer et al. (2017): Self-normalizing neural networks.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.nonlinearities import SELU
    >>> SELU(scale=2.0)(np.array([1.5])).eval(mode="FAST_COMPILE")
    array([3.])
    """

    def __init__(self, scale: float = 1, scale_neg: float = 1):
        self.scale = scale
        self.scale_neg = scale_neg

    def __call__(self, x):
        x = _tensor(x)
        neg = _const(self.scale_neg, x) * T.expm1(x)
        return _const(self.scale, x) * T.switch(T.gt(x, 0), x, neg)

    def __repr__(self) -> str:
        return f"SELU(scale={self.scale!r}, scale_neg={self.scale_neg!r})"


#: :class:`SELU` with :math:`\lambda \approx 1.0507`, :math:`\alpha \approx 1.6733`, the
#: self-normalizing values of Klambauer et al. (2017).
selu = SELU(scale=1.0507009873554804934193349852946, scale_neg=1.6732632423543772848170429916717)


def softplus(x):
    """Softplus: :math:`\\varphi(x) = \\log(1 + e^x)`, computed stably.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.nonlinearities import softplus
    >>> bool(np.isclose(softplus(np.array([0.0])).eval(mode="FAST_COMPILE")[0], np.log(2)))
    True
    """
    return T.softplus(_tensor(x))


def linear(x):
    """Linear (identity): :math:`\\varphi(x) = x`; returns its input unchanged.

    Examples
    --------
    >>> from convnet.nonlinearities import linear
    >>> linear(3.0)
    3.0
    """
    return x


identity = linear


def gelu(x):
    """Gaussian error linear unit: :math:`\\varphi(x) = x\\,\\Phi(x) =
    \\tfrac{x}{2}(1 + \\operatorname{erf}(x / \\sqrt{2}))` (the exact form, not the tanh
    approximation).

    References
    ----------
    Dan Hendrycks, Kevin Gimpel (2016): Gaussian error linear units (GELUs).

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.nonlinearities import gelu
    >>> gelu(np.array([0.0, 10.0])).eval(mode="FAST_COMPILE")
    array([ 0., 10.])
    """
    x = _tensor(x)
    return _const(0.5, x) * x * (_const(1.0, x) + T.erf(x * _const(1.0 / np.sqrt(2.0), x)))


def swish(x):
    """Swish (SiLU): :math:`\\varphi(x) = x \\cdot \\sigma(x)`.

    References
    ----------
    Prajit Ramachandran, Barret Zoph, Quoc V. Le (2017): Searching for activation
    functions.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.nonlinearities import swish
    >>> swish(np.array([0.0])).eval(mode="FAST_COMPILE")
    array([0.])
    """
    x = _tensor(x)
    return x * T.sigmoid(x)
