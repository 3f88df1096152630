"""Normalization layers: batch normalization, local response normalization, and the
standardization behind instance and layer normalization."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytensor.tensor as T
from pytensor.graph import Variable

from .. import _tensor, init, nonlinearities
from .._checks import INT_TYPES, label
from .._errors import UnsupportedValueError
from .._types import Incoming, Nonlinearity, ParamSpec
from ..ops import concrete_shape
from ._shapes import known_shape
from .base import Layer

__all__ = [
    "LocalResponseNormalization2DLayer",
    "BatchNormLayer",
    "batch_norm",
    "StandardizationLayer",
    "instance_norm",
    "layer_norm",
]


def _const(value: float | Variable, dtype: str) -> Variable:
    if isinstance(value, (int, float, np.number)):
        return T.constant(np.asarray(value, dtype=dtype))
    return value


class LocalResponseNormalization2DLayer(Layer):
    """Local response normalization across channels (AlexNet).

    ``y[b, c, i, j] = x[b, c, i, j] / (k + alpha * sum_{c'} x[b, c', i, j]^2) ** beta``,
    the sum running over the ``n`` channels centred on ``c`` (zero beyond the edges).
    As in Lasagne, ``alpha`` is not divided by ``n``.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, rows, cols)``.
    alpha : float
        Scale of the sum of squares (default 1e-4).
    k : float
        Additive constant (default 2).
    beta : float
        Exponent (default 0.75).
    n : int
        Number of adjacent channels summed over; must be odd (default 5).
    **kwargs
        Passed to :class:`Layer`.

    References
    ----------
    Alex Krizhevsky, Ilya Sutskever, Geoffrey E. Hinton (2012): ImageNet
    classification with deep convolutional neural networks. NIPS.

    Examples
    --------
    >>> from convnet.layers import LocalResponseNormalization2DLayer
    >>> LocalResponseNormalization2DLayer((None, 16, 8, 8), n=3).output_shape
    (None, 16, 8, 8)
    """

    def __init__(
        self,
        incoming: Incoming,
        alpha: float = 1e-4,
        k: float = 2,
        beta: float = 0.75,
        n: int = 5,
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        if len(self.input_shape) != 4:
            raise ValueError(
                f"{label(self)}: expected input with 4 dimensions (batch, channels, rows, "
                f"cols), received shape {self.input_shape}"
            )
        if not isinstance(n, INT_TYPES) or n < 1 or n % 2 == 0:
            raise UnsupportedValueError(
                f"{label(self)}: n: expected an odd positive int, received {n!r}"
            )
        self.alpha = alpha
        self.k = k
        self.beta = beta
        self.n = int(n)

    def get_output_for(self, input, **kwargs):
        dtype = input.dtype
        input = known_shape(input, self.input_shape)
        half_n = self.n // 2
        ch = input.shape[1]
        input_sqr = T.sqr(input)
        padded = _tensor.pad_axis(input_sqr, 1, half_n, half_n)
        total = padded[:, 0:ch]
        for i in range(1, self.n):
            total = total + padded[:, i : i + ch]
        scale = _const(self.k, dtype) + _const(self.alpha, dtype) * total
        return input / scale ** _const(self.beta, dtype)


def _norm_axes(layer: Layer, axes: str | int | Sequence[int]) -> tuple[int, ...]:
    ndim = len(layer.input_shape)
    if isinstance(axes, INT_TYPES):
        axes = (axes,)
    try:
        axes = tuple(int(a) for a in axes)
    except TypeError:
        raise TypeError(
            f"{label(layer)}: axes: expected 'auto', an int or a tuple of ints, received {axes!r}"
        ) from None
    if any(not -ndim <= a < ndim for a in axes):
        raise ValueError(
            f"{label(layer)}: axes: expected axes of the {ndim}-dimensional input (shape "
            f"{layer.input_shape}), received {axes}"
        )
    return tuple(a % ndim for a in axes)


class BatchNormLayer(Layer):
    """Batch normalization: normalize with batch statistics, then scale and shift.

    ``y = (x - mean) * inv_std * gamma + beta`` with, during training, the mean and
    ``inv_std = 1 / sqrt(var + epsilon)`` of the current batch over ``axes``, and, at
    test time (``deterministic=True``), their running averages.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    axes : 'auto', int or tuple of int
        Axes to normalize over. ``'auto'`` (default): all but the second, i.e. per
        feature for dense inputs and per channel for convolutional ones.
    epsilon : float
        Added to the variance for stability (default 1e-4).
    alpha : float
        Weight of the current batch in the running averages:
        ``running = (1 - alpha) * running + alpha * batch`` (default 0.1).
    beta, gamma : initializer, numpy array, PyTensor expression or None
        Shift (default 0) and scale (default 1); None leaves them out.
    mean, inv_std : initializer, numpy array or PyTensor expression
        Initial running averages (default 0 and 1).
    **kwargs
        Passed to :class:`Layer`.

    Attributes
    ----------
    beta : shared variable or None
        Tag ``trainable``.
    gamma : shared variable or None
        Tags ``trainable, regularizable``.
    mean, inv_std : shared variables
        Running averages; not trainable, not regularizable (tag ``batch_norm_stat``).
        All four have the input shape without ``axes``, e.g. ``(channels,)``.

    Notes
    -----
    ``get_output_for(input, deterministic=False, batch_norm_use_averages=None,
    batch_norm_update_averages=None)``: ``batch_norm_use_averages`` (default:
    ``deterministic``) normalizes with the running averages instead of the batch
    statistics; ``batch_norm_update_averages`` (default: ``not deterministic``) makes the
    expression update the running averages when a compiled function evaluates it. The
    update is a default update of a clone of ``mean``/``inv_std`` (as in Lasagne): it
    happens in any function compiled from the expression, under every backend, without
    passing it in ``updates``.

    ``batch_norm_groups`` (default None: one group) normalizes each of that many equal,
    consecutive groups of the batch with its own statistics, when the batch axis 0 is among
    ``axes``: the batch of ``N`` becomes ``(groups, N / groups)`` and the statistics are
    taken over the second of these. A data-parallel function splits its batch in the same
    consecutive parts over its devices, so ``batch_norm_groups`` equal to the device count
    gives each device the statistics of its own part (Lasagne's batch norm with one network
    copy per GPU); the :class:`~convnet.training.Trainer` passes it for
    ``batch_norm="per_device"``. The running averages move towards the mean over the
    groups of their ``mean`` and ``inv_std``. ``N`` must be a multiple of ``groups``.

    References
    ----------
    Sergey Ioffe, Christian Szegedy (2015): Batch normalization: accelerating deep
    network training by reducing internal covariate shift. ICML.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, BatchNormLayer, get_output
    >>> l_in = InputLayer((None, 2))
    >>> bn = BatchNormLayer(l_in)
    >>> x = np.array([[0.0, 1.0], [2.0, 5.0]])
    >>> get_output(bn).eval({l_in.input_var: x}, mode="FAST_COMPILE").round(3)
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> [p.name for p in bn.get_params(trainable=True)]
    ['beta', 'gamma']
    """

    def __init__(
        self,
        incoming: Incoming,
        axes: str | int | Sequence[int] = "auto",
        epsilon: float = 1e-4,
        alpha: float = 0.1,
        beta: ParamSpec | None = init.Constant(0),
        gamma: ParamSpec | None = init.Constant(1),
        mean: ParamSpec = init.Constant(0),
        inv_std: ParamSpec = init.Constant(1),
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        if isinstance(axes, str):
            if axes != "auto":
                raise ValueError(
                    f"{label(self)}: axes: expected 'auto', an int or a tuple of ints, "
                    f"received {axes!r}"
                )
            axes = (0,) + tuple(range(2, len(self.input_shape)))
        self.axes = _norm_axes(self, axes)
        if epsilon < 0:
            raise ValueError(f"{label(self)}: epsilon: expected >= 0, received {epsilon!r}")
        if not 0 <= alpha <= 1:
            raise ValueError(
                f"{label(self)}: alpha: expected a value in [0, 1], received {alpha!r}"
            )
        self.epsilon = epsilon
        self.alpha = alpha
        shape = [s for axis, s in enumerate(self.input_shape) if axis not in self.axes]
        if any(s is None for s in shape):
            raise ValueError(
                f"{label(self)}: expected known input sizes on all axes not normalized over, "
                f"received input shape {self.input_shape} with axes {self.axes}"
            )
        if beta is None:
            self.beta = None
        else:
            self.beta = self.add_param(beta, shape, "beta", trainable=True, regularizable=False)
        if gamma is None:
            self.gamma = None
        else:
            self.gamma = self.add_param(gamma, shape, "gamma", trainable=True, regularizable=True)
        self.mean = self.add_param(
            mean, shape, "mean", trainable=False, regularizable=False, batch_norm_stat=True
        )
        self.inv_std = self.add_param(
            inv_std, shape, "inv_std", trainable=False, regularizable=False, batch_norm_stat=True
        )

    def get_output_for(
        self,
        input,
        deterministic=False,
        batch_norm_use_averages=None,
        batch_norm_update_averages=None,
        batch_norm_groups=None,
        **kwargs,
    ):
        dtype = input.dtype
        param_axes = iter(range(input.ndim - len(self.axes)))
        pattern = ["x" if axis in self.axes else next(param_axes) for axis in range(input.ndim)]
        groups = self._groups(batch_norm_groups)
        x, axes, stat_pattern = input, self.axes, pattern
        if groups > 1:
            # (N, ...) -> (groups, N / groups, ...): statistics per group, over the axes one
            # further on; the parameters broadcast over the groups. Sizes known when the
            # layer was built are given as numbers (JAX needs concrete shapes), the batch's
            # as -1.
            rest = [
                input.shape[i] if size is None else size
                for i, size in enumerate(self.input_shape[1:], start=1)
            ]
            # concrete_shape: shapes downstream (the gradient's reshape back) are read off the
            # value, not computed from the -1 (a traced value under JAX)
            x = concrete_shape(input.reshape((groups, -1, *rest), ndim=input.ndim + 1))
            axes = tuple(a + 1 for a in self.axes)
            stat_pattern = [0] + [p if p == "x" else p + 1 for p in pattern]
            pattern = ["x", *pattern]
        # The batch's variance from the centred input that the output also uses: one
        # centring, so the gradient has one path through it (about 3x faster under JAX than
        # the variance centring the input a second time; the same values).
        input_mean = _tensor.mean(x, axes)
        centered_batch = x - input_mean.dimshuffle(stat_pattern)
        input_var = _tensor.mean(T.sqr(centered_batch), axes)
        input_inv_std = T.reciprocal(T.sqrt(input_var + _const(self.epsilon, dtype)))

        if batch_norm_use_averages is None:
            batch_norm_use_averages = deterministic
        if batch_norm_use_averages:
            centered = x - self.mean.dimshuffle(pattern)
            inv_std = self.inv_std
        else:
            centered, inv_std = centered_batch, input_inv_std

        if batch_norm_update_averages is None:
            batch_norm_update_averages = not deterministic
        if batch_norm_update_averages:
            # Lasagne's mechanism: clones of mean/inv_std (sharing their storage) carry the
            # running-average updates as default updates, and join the output's graph so that
            # any function compiled from it applies them. The update reads the original
            # variable, and the output reads only the clone's shape (a zero vector of that
            # shape is added to inv_std): the clone, which PyTensor may overwrite in place (it
            # has an update), is never an operand, so reads of mean/inv_std elsewhere in the
            # same function (e.g. a deterministic output) see the old values.
            for param, batch in ((self.mean, input_mean), (self.inv_std, input_inv_std)):
                if groups > 1:  # the mean over the groups' statistics
                    batch = _tensor.mean(batch, 0)
                running = param.clone()
                a = _const(self.alpha, param.dtype)
                one_minus_a = _const(1 - self.alpha, param.dtype)
                update = one_minus_a * param + a * T.cast(batch, param.dtype)
                _tensor.set_default_update(running, T.cast(update, param.dtype))
                anchor = _tensor.full([running.shape[i] for i in range(running.ndim)], 0, dtype)
                inv_std = inv_std + anchor

        scale = inv_std if self.gamma is None else self.gamma * inv_std
        # per-group statistics have a leading groups axis; the running averages have none
        scale_pattern = stat_pattern if scale.ndim > self.mean.ndim else pattern
        normalized = centered * scale.dimshuffle(scale_pattern)
        if self.beta is not None:
            normalized = normalized + self.beta.dimshuffle(pattern)
        if groups > 1:
            return normalized.reshape((-1, *rest), ndim=input.ndim)
        return normalized

    def _groups(self, groups: int | None) -> int:
        """The number of groups the batch is normalized in (1 unless axis 0 is among
        ``axes``); ValueError for anything but None or a positive int."""
        if groups is None:
            return 1
        if isinstance(groups, bool) or not isinstance(groups, INT_TYPES) or groups < 1:
            raise ValueError(
                f"{label(self)}: batch_norm_groups: expected None or a positive int, "
                f"received {groups!r}"
            )
        return int(groups) if 0 in self.axes else 1


def _strip_nonlinearity_and_bias(layer: Layer) -> Nonlinearity | None:
    nonlinearity = getattr(layer, "nonlinearity", None)
    if nonlinearity is not None:
        layer.nonlinearity = nonlinearities.identity
    if getattr(layer, "b", None) is not None:
        del layer.params[layer.b]
        layer.b = None
    return nonlinearity


def batch_norm(layer: Layer, **kwargs: Any) -> Layer:
    """Add batch normalization after a layer, moving its nonlinearity behind it.

    Removes the layer's bias (``beta`` takes its role), sets its nonlinearity to the
    identity, adds a :class:`BatchNormLayer` (named ``<name>_bn``) and, if the layer had a
    nonlinearity, a :class:`~convnet.layers.NonlinearityLayer` (``<name>_bn_nonlin``).

    Parameters
    ----------
    layer : Layer
        The layer to normalize (typically a dense or convolution layer).
    **kwargs
        Passed to :class:`BatchNormLayer` (``name`` overrides the generated name).

    Returns
    -------
    Layer
        The last layer added.

    Examples
    --------
    >>> from convnet.layers import DenseLayer, batch_norm, get_all_layers
    >>> l = batch_norm(DenseLayer((None, 10), 5, name="fc"))
    >>> [type(x).__name__ for x in get_all_layers(l)]
    ['DenseLayer', 'BatchNormLayer', 'NonlinearityLayer']
    >>> l.name, l.input_layer.input_layer.b is None
    ('fc_bn_nonlin', True)
    """
    nonlinearity = _strip_nonlinearity_and_bias(layer)
    bn_name = kwargs.pop("name", None) or (
        layer.name + "_bn" if getattr(layer, "name", None) else None
    )
    layer = BatchNormLayer(layer, name=bn_name, **kwargs)
    if nonlinearity is not None:
        from .special import NonlinearityLayer

        layer = NonlinearityLayer(layer, nonlinearity, name=bn_name and bn_name + "_nonlin")
    return layer


class StandardizationLayer(Layer):
    """Standardize each example over some axes: ``y = (x - mean) / sqrt(var + epsilon)``.

    Statistics are per example (never over the batch), so training and test behave alike.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    axes : 'auto', 'spatial', 'features', int or tuple of int
        ``'spatial'``: axes 2 and up (instance normalization); ``'features'``: axes 1 and
        up (layer normalization); ``'auto'`` (default): ``'spatial'``, or axis 1 for a 2-d
        input. A 2-d input has no spatial axes: with ``'spatial'`` each value is its own
        mean and the output is 0 (as in Lasagne). An explicit empty tuple is refused.
    epsilon : float
        Added to the variance (default 1e-4).
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, StandardizationLayer, get_output
    >>> l_in = InputLayer((None, 2))
    >>> l = StandardizationLayer(l_in, epsilon=0)
    >>> get_output(l).eval({l_in.input_var: [[1.0, 3.0]]}, mode="FAST_COMPILE")
    array([[-1.,  1.]])
    """

    def __init__(
        self,
        incoming: Incoming,
        axes: str | int | Sequence[int] = "auto",
        epsilon: float = 1e-4,
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        ndim = len(self.input_shape)
        spatial_of_2d = isinstance(axes, str) and axes == "spatial" and ndim == 2
        if isinstance(axes, str):
            if axes == "auto":
                axes = (1,) if ndim == 2 else tuple(range(2, ndim))
            elif axes == "spatial":
                axes = tuple(range(2, ndim))
            elif axes == "features":
                axes = tuple(range(1, ndim))
            else:
                raise ValueError(
                    f"{label(self)}: axes: expected 'auto', 'spatial', 'features', an int "
                    f"or a tuple of ints, received {axes!r}"
                )
        self.axes = _norm_axes(self, axes)
        if not self.axes and not spatial_of_2d:
            raise ValueError(
                f"{label(self)}: axes: expected at least one axis to standardize over, "
                f"received none for input shape {self.input_shape}"
            )
        self.epsilon = epsilon

    def get_output_for(self, input, **kwargs):
        mean = _tensor.mean(input, self.axes, keepdims=True)
        var = _tensor.var(input, self.axes, keepdims=True)
        return (input - mean) / T.sqrt(var + _const(self.epsilon, input.dtype))


def instance_norm(
    layer: Layer, learn_scale: bool = True, learn_bias: bool = True, **kwargs: Any
) -> Layer:
    """Add instance normalization after a layer, moving its nonlinearity behind it.

    Adds a :class:`StandardizationLayer` over the spatial axes (``<name>_in``), then
    optionally a :class:`~convnet.layers.ScaleLayer` and a :class:`~convnet.layers.BiasLayer`
    (one parameter per channel), then the layer's nonlinearity. Removes the layer's bias.

    References
    ----------
    Dmitry Ulyanov, Andrea Vedaldi, Victor Lempitsky (2016): Instance
    normalization: the missing ingredient for fast stylization.

    Examples
    --------
    >>> from convnet.layers import NINLayer, instance_norm
    >>> l = instance_norm(NINLayer((None, 3, 4, 4), 2, name="c"))
    >>> l.name, l.output_shape
    ('c_in_nonlin', (None, 2, 4, 4))
    """
    from .special import BiasLayer, NonlinearityLayer, ScaleLayer

    nonlinearity = _strip_nonlinearity_and_bias(layer)
    in_name = kwargs.pop("name", None) or (
        layer.name + "_in" if getattr(layer, "name", None) else None
    )
    layer = StandardizationLayer(layer, axes="spatial", name=in_name, **kwargs)
    if learn_scale:
        layer = ScaleLayer(layer, shared_axes="auto", name=in_name and in_name + "_scale")
    if learn_bias:
        layer = BiasLayer(layer, shared_axes="auto", name=in_name and in_name + "_bias")
    if nonlinearity is not None:
        layer = NonlinearityLayer(layer, nonlinearity, name=in_name and in_name + "_nonlin")
    return layer


def layer_norm(layer: Layer, **kwargs: Any) -> Layer:
    """Add layer normalization after a layer, moving its nonlinearity behind it.

    Adds a :class:`StandardizationLayer` over all non-batch axes (``<name>_ln``), a
    :class:`~convnet.layers.ScaleLayer` and a :class:`~convnet.layers.BiasLayer` (one
    parameter per channel), then the layer's nonlinearity. Removes the layer's bias.

    References
    ----------
    Jimmy Lei Ba, Jamie Ryan Kiros, Geoffrey E. Hinton (2016): Layer normalization.

    Examples
    --------
    >>> from convnet.layers import DenseLayer, layer_norm
    >>> layer_norm(DenseLayer((None, 4), 3, name="fc")).name
    'fc_ln_nonlin'
    """
    from .special import BiasLayer, NonlinearityLayer, ScaleLayer

    nonlinearity = _strip_nonlinearity_and_bias(layer)
    ln_name = kwargs.pop("name", None) or (
        layer.name + "_ln" if getattr(layer, "name", None) else None
    )
    layer = StandardizationLayer(layer, axes="features", name=ln_name, **kwargs)
    layer = ScaleLayer(layer, shared_axes="auto", name=ln_name and ln_name + "_scale")
    layer = BiasLayer(layer, shared_axes="auto", name=ln_name and ln_name + "_bias")
    if nonlinearity is not None:
        layer = NonlinearityLayer(layer, nonlinearity, name=ln_name and ln_name + "_nonlin")
    return layer
