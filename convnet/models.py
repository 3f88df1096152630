"""Reference architectures for the examples: a small CNN, a VGG-style network and a ResNet.

Each builder returns the output layer (a softmax over ``num_classes``) of a network built
from :mod:`convnet.layers`, for inputs of shape ``(batch, channels, rows, cols)``. The
networks are sized for 32x32 (CIFAR) and 64x64 (Tiny ImageNet) images but take any input
size that survives their pooling. Convolutions use :class:`~convnet.init.HeNormal`
initialisation and Lasagne's default true convolution (``flip_filters=True``).

``dtype`` and ``seed`` make a builder self-contained: the parameters get that dtype
(default ``pytensor.config.floatX``) and are drawn, with the dropout layers' seeds, from a
generator seeded with ``seed`` (default: the generator of :mod:`convnet.random`). Both
settings apply only while the network is built.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytensor
from pytensor.tensor import TensorVariable

from . import init, nonlinearities
from . import random as _random
from ._checks import is_int
from ._types import ShapeLike
from .layers import (
    BatchNormLayer,
    Conv2DLayer,
    DenseLayer,
    DropoutLayer,
    ElemwiseSumLayer,
    GlobalPoolLayer,
    InputLayer,
    Layer,
    MaxPool2DLayer,
    NonlinearityLayer,
    batch_norm,
)

__all__ = ["small_cnn", "vgg_style", "resnet"]


def _check_input_shape(input_shape: Any, *, caller: str) -> tuple:
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else None
    if shape is None or len(shape) != 4 or not all(is_int(s) and s > 0 for s in shape[1:]):
        raise ValueError(
            f"{caller}: expected input_shape (batch, channels, rows, cols) with known positive "
            f"channels, rows and cols, received {input_shape!r}"
        )
    return (shape[0],) + tuple(int(s) for s in shape[1:])


def _check_positive(value: Any, argname: str, *, caller: str) -> int:
    if not is_int(value) or value < 1:
        raise ValueError(f"{caller}: expected {argname} to be an int >= 1, received {value!r}")
    return int(value)


def _check_widths(widths: Any, argname: str, *, caller: str) -> tuple[int, ...]:
    if not isinstance(widths, Sequence) or not widths:
        raise ValueError(
            f"{caller}: expected {argname} to be a non-empty list of ints, got {widths!r}"
        )
    return tuple(_check_positive(w, f"every entry of {argname}", caller=caller) for w in widths)


def _check_dropout(p: Any, *, caller: str) -> float:
    if not isinstance(p, numbers.Real) or not 0.0 <= p < 1.0:
        raise ValueError(f"{caller}: expected dropout in [0, 1), received {p!r}")
    return float(p)


def _check_spatial(shape: tuple, halvings: int, hint: str, *, caller: str) -> None:
    if min(shape[2:]) < 2**halvings:
        raise ValueError(
            f"{caller}: input_shape {shape} is too small: the network halves rows and cols "
            f"{halvings} times, so both must be at least {2**halvings}; {hint}"
        )


@contextlib.contextmanager
def _building(dtype: npt.DTypeLike | None, seed: int | None) -> Iterator[None]:
    """Build with parameters of ``dtype`` drawn from a generator seeded with ``seed``."""
    old_rng = _random.get_rng()
    flags = {} if dtype is None else {"floatX": str(np.dtype(dtype))}
    try:
        if seed is not None:
            _random.set_rng(np.random.RandomState(seed))
        with pytensor.config.change_flags(**flags):
            yield
    finally:
        _random.set_rng(old_rng)


def _conv(incoming: Layer, num_filters: int, filter_size: int, name: str, **kwargs: Any):
    return Conv2DLayer(
        incoming,
        num_filters,
        filter_size,
        pad="same",
        W=init.HeNormal(gain="relu"),
        name=name,
        **kwargs,
    )


def _classifier(incoming: Layer, num_classes: int) -> DenseLayer:
    return DenseLayer(incoming, num_classes, nonlinearity=nonlinearities.softmax, name="output")


def small_cnn(
    input_shape: ShapeLike = (None, 3, 32, 32),
    num_classes: int = 10,
    num_filters: int = 32,
    num_units: int = 256,
    dropout: float = 0.5,
    input_var: TensorVariable | None = None,
    dtype: npt.DTypeLike | None = None,
    seed: int | None = None,
) -> Layer:
    """A small CNN: three 3x3 convolution + 2x2 max-pooling stages and two dense layers.

    ``conv(F) - pool - conv(2F) - pool - conv(4F) - pool - dense(num_units) - dropout -
    dense(num_classes, softmax)``, all convolutions ``pad="same"`` with rectifiers and
    biases.

    Parameters
    ----------
    input_shape : tuple
        ``(batch, channels, rows, cols)``; rows and cols at least 8.
    num_classes : int
        Number of classes (output units).
    num_filters : int
        ``F``, the filters of the first convolution (default 32).
    num_units : int
        Units of the hidden dense layer (default 256).
    dropout : float
        Dropout probability before the output layer (default 0.5; 0 for none).
    input_var : TensorVariable, optional
        The input variable (default: a new 4-d tensor).
    dtype : str, optional
        Parameter and input dtype (default ``pytensor.config.floatX``).
    seed : int, optional
        Seed of the initial values and dropout (default: :mod:`convnet.random`'s generator).

    Returns
    -------
    DenseLayer
        The output layer; output shape ``(batch, num_classes)``.

    Notes
    -----
    With ``C`` input channels, ``H x W`` inputs, ``U = num_units`` and ``K = num_classes``,
    the network has ``9 C F + F + 18 F^2 + 2F + 72 F^2 + 4F + 4F (H//8) (W//8) U + U +
    U K + K`` parameters (``//``: floor division by the three poolings).

    Examples
    --------
    >>> from convnet.models import small_cnn
    >>> from convnet.layers import count_params
    >>> net = small_cnn((None, 3, 32, 32), 10, num_filters=8, num_units=16, seed=0)
    >>> net.output_shape, count_params(net)
    ((None, 10), 14410)
    """
    caller = "small_cnn"
    shape = _check_input_shape(input_shape, caller=caller)
    num_classes = _check_positive(num_classes, "num_classes", caller=caller)
    num_filters = _check_positive(num_filters, "num_filters", caller=caller)
    num_units = _check_positive(num_units, "num_units", caller=caller)
    dropout = _check_dropout(dropout, caller=caller)
    _check_spatial(shape, 3, "use a larger input", caller=caller)
    with _building(dtype, seed):
        net = InputLayer(shape, input_var=input_var, name="input")
        for i, width in enumerate((num_filters, 2 * num_filters, 4 * num_filters), start=1):
            net = _conv(net, width, 3, name=f"conv{i}")
            net = MaxPool2DLayer(net, 2, name=f"pool{i}")
        net = DenseLayer(net, num_units, W=init.HeNormal(gain="relu"), name="fc")
        if dropout:
            net = DropoutLayer(net, p=dropout, name="fc_dropout")
        return _classifier(net, num_classes)


def vgg_style(
    input_shape: ShapeLike = (None, 3, 32, 32),
    num_classes: int = 10,
    widths: Sequence[int] = (64, 128, 256),
    convs_per_block: int = 2,
    num_units: int = 512,
    dropout: float = 0.5,
    input_var: TensorVariable | None = None,
    dtype: npt.DTypeLike | None = None,
    seed: int | None = None,
) -> Layer:
    """A VGG-style network: blocks of batch-normalised 3x3 convolutions and 2x2 max-pooling.

    Each block is ``convs_per_block`` times ``conv(width, 3x3, pad="same") - batch norm -
    rectify``, then a 2x2 max-pooling; after the blocks come ``dropout - dense(num_units) -
    batch norm - rectify - dropout - dense(num_classes, softmax)``. Batch normalisation
    (:func:`~convnet.layers.batch_norm`) replaces the biases of the layers it follows.

    Parameters
    ----------
    input_shape : tuple
        ``(batch, channels, rows, cols)``; rows and cols at least ``2 ** len(widths)``.
    num_classes : int
        Number of classes.
    widths : sequence of int
        The filters of each block's convolutions (default ``(64, 128, 256)``).
    convs_per_block : int
        Convolutions per block (default 2).
    num_units : int
        Units of the hidden dense layer (default 512).
    dropout : float
        Dropout probability before each dense layer (default 0.5; 0 for none).
    input_var, dtype, seed
        As for :func:`small_cnn`.

    Returns
    -------
    DenseLayer
        The output layer; output shape ``(batch, num_classes)``.

    Notes
    -----
    A convolution from ``c`` to ``w`` channels has ``9 c w`` weights and its batch
    normalisation ``4 w`` values (``beta``, ``gamma`` trainable; the running ``mean`` and
    ``inv_std`` not). With ``B = len(widths)``, the dense layer sees
    ``widths[-1] (H // 2^B) (W // 2^B)`` inputs and adds ``4 num_units`` batch-norm
    values; the output layer has ``num_units K + K`` parameters.

    References
    ----------
    * K. Simonyan, A. Zisserman (2015): Very deep convolutional networks for large-scale
      image recognition. ICLR.
    * S. Ioffe, C. Szegedy (2015): Batch normalization: accelerating deep network training
      by reducing internal covariate shift. ICML.

    Examples
    --------
    >>> from convnet.models import vgg_style
    >>> from convnet.layers import count_params
    >>> net = vgg_style((None, 3, 32, 32), 10, widths=(8, 16), num_units=32, seed=0)
    >>> net.output_shape, count_params(net), count_params(net, trainable=True)
    ((None, 10), 37666, 37506)
    """
    caller = "vgg_style"
    shape = _check_input_shape(input_shape, caller=caller)
    num_classes = _check_positive(num_classes, "num_classes", caller=caller)
    widths = _check_widths(widths, "widths", caller=caller)
    convs_per_block = _check_positive(convs_per_block, "convs_per_block", caller=caller)
    num_units = _check_positive(num_units, "num_units", caller=caller)
    dropout = _check_dropout(dropout, caller=caller)
    _check_spatial(shape, len(widths), "use fewer widths or a larger input", caller=caller)
    with _building(dtype, seed):
        net = InputLayer(shape, input_var=input_var, name="input")
        for b, width in enumerate(widths, start=1):
            for c in range(1, convs_per_block + 1):
                net = batch_norm(_conv(net, width, 3, name=f"block{b}_conv{c}"))
            net = MaxPool2DLayer(net, 2, name=f"block{b}_pool")
        if dropout:
            net = DropoutLayer(net, p=dropout, name="fc_dropout_in")
        net = batch_norm(DenseLayer(net, num_units, W=init.HeNormal(gain="relu"), name="fc"))
        if dropout:
            net = DropoutLayer(net, p=dropout, name="fc_dropout")
        return _classifier(net, num_classes)


def _preact_block(net: Layer, width: int, stride: int, name: str) -> Layer:
    """``x + F(x)`` with ``F = BN-relu-conv3x3(stride)-BN-relu-conv3x3``.

    When the block changes the shape (a stride or a new width), the shortcut is a 1x1
    convolution (with that stride) of the pre-activated input, as in He et al.'s
    pre-activation networks; otherwise it is the identity.
    """
    in_channels = net.output_shape[1]
    pre = NonlinearityLayer(BatchNormLayer(net, name=f"{name}_bn1"), name=f"{name}_relu1")
    out = _conv(pre, width, 3, stride=stride, b=None, nonlinearity=None, name=f"{name}_conv1")
    out = NonlinearityLayer(BatchNormLayer(out, name=f"{name}_bn2"), name=f"{name}_relu2")
    out = _conv(out, width, 3, b=None, nonlinearity=None, name=f"{name}_conv2")
    if stride == 1 and in_channels == width:
        shortcut = net
    else:
        shortcut = Conv2DLayer(
            pre,
            width,
            1,
            stride=stride,
            b=None,
            nonlinearity=None,
            W=init.HeNormal(),
            name=f"{name}_projection",
        )
    return ElemwiseSumLayer([out, shortcut], name=f"{name}_sum")


def resnet(
    input_shape: ShapeLike = (None, 3, 32, 32),
    num_classes: int = 10,
    blocks_per_stage: int | Sequence[int] = 3,
    widths: Sequence[int] = (16, 32, 64),
    input_var: TensorVariable | None = None,
    dtype: npt.DTypeLike | None = None,
    seed: int | None = None,
) -> Layer:
    """A pre-activation residual network (ResNet) for small images, e.g. ResNet-20.

    ``conv(widths[0], 3x3)``, then one stage per entry of ``widths``, each of
    ``blocks_per_stage`` residual blocks ``x + conv3x3(relu(bn(conv3x3(relu(bn(x))))))``
    (:class:`~convnet.layers.ElemwiseSumLayer` shortcuts), then batch norm, rectify,
    global average pooling and ``dense(num_classes, softmax)``. The first block of every
    stage but the first halves rows and cols with stride 2 and widens the network; its
    shortcut is then a projection (a 1x1 convolution with stride 2 of the block's
    pre-activated input). The convolutions have no biases (batch norm follows them).

    The defaults give He et al.'s CIFAR-10 ResNet-20 (depth ``6 n + 2`` for ``n`` blocks in
    each of 3 stages, 16-32-64 filters, output 8x8 before pooling) in its pre-activation
    form. For 64x64 inputs (Tiny ImageNet) four stages such as ``(32, 64, 128, 256)`` end
    at 8x8 too.

    Parameters
    ----------
    input_shape : tuple
        ``(batch, channels, rows, cols)``; rows and cols at least ``2 ** (len(widths) - 1)``.
    num_classes : int
        Number of classes.
    blocks_per_stage : int or sequence of int
        Residual blocks per stage: one number for all, or one per stage (default 3).
    widths : sequence of int
        Filters of each stage (default ``(16, 32, 64)``).
    input_var, dtype, seed
        As for :func:`small_cnn`.

    Returns
    -------
    DenseLayer
        The output layer; output shape ``(batch, num_classes)``.

    Notes
    -----
    Parameters, with ``w_0 = widths[0]`` and ``w_s``, ``w_{s-1}`` the widths of a stage and
    the one before: the first convolution ``9 C w_0``; a block from ``c`` to ``w`` channels
    ``4 c`` (its input batch norm) ``+ 9 c w + 4 w + 9 w^2``, plus ``c w`` for a projection
    shortcut; the final batch norm ``4 w_last`` and the classifier ``w_last K + K``. Half of
    each batch norm's ``4 c`` values (the running mean and ``inv_std``) are not trainable.

    References
    ----------
    * K. He, X. Zhang, S. Ren, J. Sun (2016): Deep residual learning for image recognition.
      CVPR.
    * K. He, X. Zhang, S. Ren, J. Sun (2016): Identity mappings in deep residual networks.
      ECCV.

    Examples
    --------
    >>> from convnet.models import resnet
    >>> from convnet.layers import count_params
    >>> net = resnet((None, 3, 32, 32), 10, blocks_per_stage=3, seed=0)  # ResNet-20
    >>> net.output_shape, count_params(net, trainable=True)
    ((None, 10), 272282)
    """
    caller = "resnet"
    shape = _check_input_shape(input_shape, caller=caller)
    num_classes = _check_positive(num_classes, "num_classes", caller=caller)
    widths = _check_widths(widths, "widths", caller=caller)
    if is_int(blocks_per_stage):
        blocks = (_check_positive(blocks_per_stage, "blocks_per_stage", caller=caller),) * len(
            widths
        )
    else:
        blocks = _check_widths(blocks_per_stage, "blocks_per_stage", caller=caller)
        if len(blocks) != len(widths):
            raise ValueError(
                f"{caller}: expected one entry of blocks_per_stage per stage ({len(widths)} "
                f"widths {widths}), received {len(blocks)}: {blocks}"
            )
    _check_spatial(shape, len(widths) - 1, "use fewer stages or a larger input", caller=caller)
    with _building(dtype, seed):
        net = InputLayer(shape, input_var=input_var, name="input")
        net = _conv(net, widths[0], 3, b=None, nonlinearity=None, name="conv1")
        for s, (width, n) in enumerate(zip(widths, blocks), start=1):
            for b in range(1, n + 1):
                stride = 2 if s > 1 and b == 1 else 1
                net = _preact_block(net, width, stride, name=f"stage{s}_block{b}")
        net = NonlinearityLayer(BatchNormLayer(net, name="final_bn"), name="final_relu")
        net = GlobalPoolLayer(net, name="global_pool")
        return _classifier(net, num_classes)
