"""Why a network decides as it does: input gradients and the inputs that fool it.

Explanations (which input pixels a class score depends on):

.. autosummary::
    :nosignatures:

    InputGradient
    saliency_map
    guided_backprop
    deconvnet
    plot_saliency

Adversarial and fooling images (inputs that change or fake a decision):

.. autosummary::
    :nosignatures:

    AttackResult
    Classifier
    fgsm
    targeted_attack
    fooling_images
    plot_attack

All of them work on any network of convnet layers with a single :class:`InputLayer` whose
output layer gives class scores ``(batch, classes)``. They evaluate the network with
``deterministic=True`` (no dropout; batch normalization uses its running averages) and
compile with :func:`convnet.function` (the ``mode`` argument picks the backend).

**Class scores.** If the output layer's nonlinearity is
:func:`~convnet.nonlinearities.softmax` (a :class:`~convnet.layers.DenseLayer` or a
:class:`~convnet.layers.NonlinearityLayer`), its input is taken as the logits, the
pre-softmax class scores; otherwise the network's output itself is taken as the logits.
Probabilities and confidences are always ``softmax(logits)``.

**How guided backpropagation and the deconvnet are built.** Both are the gradient of a
class score with the backward pass through every rectifier replaced. convnet rebuilds the
network's expression with each rectifying layer (any layer whose ``nonlinearity`` is
:func:`~convnet.nonlinearities.rectify` or a :class:`~convnet.nonlinearities.LeakyRectify`,
such as ``leaky_rectify``) evaluated on a shallow copy whose nonlinearity is swapped for a
rectifier with the same forward values and an overridden gradient (a PyTensor
``OpFromGraph``); the layers themselves are not modified. For an incoming gradient ``g`` at
a rectifier with input ``x`` and leakiness ``a`` (0 for ``rectify``), the gradient passed
back is

============= =============================================== ========================
method        passed back                                     reference
============= =============================================== ========================
``gradient``  ``g * (1 if x > 0 else a)``                     Simonyan et al. 2014
``guided``    ``max(g, 0) * (1 if x > 0 else a)``             Springenberg et al. 2015
``deconvnet`` ``g if g > 0 else a * g`` (the rectifier of g)  Zeiler & Fergus 2014
============= =============================================== ========================

Everything else (convolutions, pooling with its max "switches", dense layers, other
nonlinearities such as ``elu``, ``tanh`` or a :class:`~convnet.layers.ParametricRectifierLayer`)
keeps its ordinary gradient, which for a convolution is the transposed convolution of the
deconvnet.

References
----------
- Karen Simonyan, Andrea Vedaldi, Andrew Zisserman (2014): Deep inside convolutional
  networks: visualising image classification models and saliency maps. ICLR workshop.
- Matthew D. Zeiler, Rob Fergus (2014): Visualizing and understanding convolutional
  networks. ECCV.
- Jost Tobias Springenberg, Alexey Dosovitskiy, Thomas Brox, Martin Riedmiller (2015):
  Striving for simplicity: the all convolutional net. ICLR workshop.
- Christian Szegedy, Wojciech Zaremba, Ilya Sutskever, Joan Bruna, Dumitru Erhan,
  Ian Goodfellow, Rob Fergus (2014): Intriguing properties of neural networks. ICLR.
- Ian J. Goodfellow, Jonathon Shlens, Christian Szegedy (2015): Explaining and
  harnessing adversarial examples. ICLR.
- Anh Nguyen, Jason Yosinski, Jeff Clune (2015): Deep neural networks are easily
  fooled: high confidence predictions for unrecognizable images. CVPR.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytensor.tensor as T
from pytensor.compile.builders import OpFromGraph

from . import nonlinearities
from .backend import function
from .layers import InputLayer, Layer, get_all_layers, get_output

__all__ = [
    "InputGradient",
    "saliency_map",
    "guided_backprop",
    "deconvnet",
    "plot_saliency",
    "AttackResult",
    "Classifier",
    "fgsm",
    "targeted_attack",
    "fooling_images",
    "plot_attack",
]

_METHODS = ("gradient", "guided", "deconvnet")
_SCORES = ("logit", "log_prob")


# --------------------------------------------------------------------------------------
# networks: input layer, images, batched evaluation
# --------------------------------------------------------------------------------------


def _label(layer: Any) -> str:
    name = getattr(layer, "name", None)
    cls = type(layer).__name__
    return f"{cls} {name!r}" if name is not None else cls


def _check_layer(layer: Any, who: str) -> None:
    if isinstance(layer, (list, tuple)):
        bad = [x for x in layer if not isinstance(x, Layer)]
        if not layer or bad:
            raise TypeError(
                f"{who}: expected a convnet Layer or a list of Layers, received "
                f"{type(layer).__name__} {layer!r}"
            )
    elif not isinstance(layer, Layer):
        raise TypeError(
            f"{who}: layer: expected a convnet Layer (the network's output layer), received "
            f"{type(layer).__name__}"
        )


def _single_input_layer(layer: Any, who: str) -> InputLayer:
    """The only InputLayer below ``layer``; ValueError naming them all otherwise."""
    _check_layer(layer, who)
    inputs = [x for x in get_all_layers(layer) if isinstance(x, InputLayer)]
    if len(inputs) != 1:
        names = ", ".join(_label(x) for x in inputs) or "none"
        raise ValueError(
            f"{who}: expected a network with exactly one InputLayer, received one with "
            f"{len(inputs)} ({names})"
        )
    return inputs[0]


def _check_images(images: Any, input_layer: InputLayer, who: str, argname: str = "images"):
    """``images`` as an array of the input variable's dtype, checked against its shape."""
    shape = tuple(input_layer.shape)
    arr = np.asarray(images)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{who}: {argname}: expected a numeric array, received dtype {arr.dtype}")
    if arr.ndim != len(shape) or any(
        s is not None and a != s for a, s in zip(arr.shape[1:], shape[1:])
    ):
        hint = ""
        if arr.ndim == len(shape) - 1:
            hint = f"; for a single image pass {argname}[None] (add a batch axis)"
        raise ValueError(
            f"{who}: {argname}: expected an array of shape {shape} (the input of "
            f"{_label(input_layer)}), received shape {arr.shape}{hint}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{who}: {argname}: expected at least one image, received none")
    return arr.astype(input_layer.input_var.dtype, copy=False)


def _check_clip(clip: Any, who: str) -> tuple[float, float] | None:
    if clip is None:
        return None
    try:
        lo, hi = (float(c) for c in clip)
    except (TypeError, ValueError):
        raise TypeError(
            f"{who}: clip: expected a pair (lo, hi) of numbers or None, received {clip!r}"
        ) from None
    if not lo < hi:
        raise ValueError(f"{who}: clip: expected lo < hi, received {clip!r}")
    return lo, hi


def _check_in_range(images: np.ndarray, clip: tuple[float, float] | None, who: str, name: str):
    if clip is None:
        return
    lo, hi = clip
    mn, mx = float(images.min()), float(images.max())
    if mn < lo or mx > hi:
        raise ValueError(
            f"{who}: {name}: expected values within clip=({lo:g}, {hi:g}), received values "
            f"in [{mn:g}, {mx:g}]; rescale the images or pass the range they use as clip"
        )


def _num_classes(layer: Layer, who: str) -> int | None:
    shape = layer.output_shape
    if len(shape) != 2:
        raise ValueError(
            f"{who}: expected a network whose output layer gives class scores of shape "
            f"(batch, classes), received {_label(layer)} with output shape {shape}"
        )
    return shape[1]


def _check_targets(target: Any, n: int, num_classes: int | None, who: str, argname: str):
    """Class indices, one per image, as int64; ``None`` stays None."""
    if target is None:
        return None
    t = np.asarray(target)
    if t.dtype.kind not in "iu" or t.ndim > 1:
        raise TypeError(
            f"{who}: {argname}: expected an int or a sequence of ints (class indices), "
            f"received {target!r}"
        )
    t = np.broadcast_to(t.astype(np.int64), (n,)).copy() if t.ndim == 0 else t.astype(np.int64)
    if t.shape != (n,):
        raise ValueError(
            f"{who}: {argname}: expected one class per image ({n}), received {t.shape[0]}"
        )
    hi = num_classes if num_classes is not None else np.iinfo(np.int64).max
    bad = t[(t < 0) | (t >= hi)]
    if bad.size:
        raise ValueError(
            f"{who}: {argname}: expected class indices in [0, {hi}), received {int(bad[0])}"
        )
    return t


def _batched(fn: Callable, arrays: Sequence[np.ndarray], batch_size: int | None) -> list:
    """Call ``fn`` on slices of ``arrays`` along axis 0 and concatenate each output."""
    n = arrays[0].shape[0]
    step = n if not batch_size else int(batch_size)
    parts = [fn(*(a[i : i + step] for a in arrays)) for i in range(0, n, step)]
    if not isinstance(parts[0], (list, tuple)):
        return [np.concatenate(parts, axis=0)]
    return [np.concatenate([p[k] for p in parts], axis=0) for k in range(len(parts[0]))]


# --------------------------------------------------------------------------------------
# rectifiers with an overridden gradient
# --------------------------------------------------------------------------------------


def _pullback_keyword() -> str:
    # PyTensor renamed OpFromGraph's ``lop_overrides`` to ``pullback`` (the old name warns).
    params = inspect.signature(OpFromGraph.__init__).parameters
    return "pullback" if "pullback" in params else "lop_overrides"


def _rectifier_leakiness(nonlinearity: Any) -> float | None:
    """The leakiness of a rectifier nonlinearity (0 for rectify), None for anything else."""
    if nonlinearity is nonlinearities.rectify:
        return 0.0
    if isinstance(nonlinearity, nonlinearities.LeakyRectify):
        return float(nonlinearity.leakiness)
    return None


class _RectifierWithRule:
    """A (leaky) rectifier whose backward pass follows ``rule`` ("guided" or "deconvnet")."""

    def __init__(self, leakiness: float, rule: str):
        self.leakiness = leakiness
        self.rule = rule

    def __call__(self, x):
        x = T.as_tensor_variable(x)
        a = np.asarray(self.leakiness, dtype=x.dtype)
        one = np.asarray(1, dtype=x.dtype)
        xi = x.type()
        leak = T.zeros_like(xi) if self.leakiness == 0 else xi * a
        out = T.switch(T.gt(xi, 0), xi, leak)
        rule = self.rule

        def backward(inputs, outputs, cotangents):
            (xv,), (g,) = inputs, cotangents
            if rule == "guided":
                slope = T.switch(T.gt(xv, 0), one, a)
                return [T.maximum(g, 0) * slope]
            return [T.switch(T.gt(g, 0), g, g * a)]

        op = OpFromGraph(
            [xi], [out], inline=True, name=f"{rule}_rectify", **{_pullback_keyword(): backward}
        )
        return op(x)


def _logits(layer: Layer, input_layer: InputLayer, x, rule: str | None):
    """The network's logits for input ``x``, with rectifiers swapped for ``rule``.

    Returns the logits and the number of rectifiers swapped.
    """
    outputs: dict = {}
    swapped = 0
    for current in get_all_layers(layer):
        if current is input_layer:
            outputs[current] = x
            continue
        nonlinearity = getattr(current, "nonlinearity", None)
        replacement = None
        leakiness = _rectifier_leakiness(nonlinearity)
        if rule is not None and leakiness is not None:
            replacement = _RectifierWithRule(leakiness, rule)
            swapped += 1
        if current is layer and nonlinearity is nonlinearities.softmax:
            replacement = nonlinearities.linear
        built = current
        if replacement is not None:
            built = copy.copy(current)
            built.nonlinearity = replacement
        parents = getattr(current, "input_layers", None)
        if parents is None:
            parents = [current.input_layer]
        if any(p is None for p in parents):
            raise ValueError(
                f"{_label(current)} was built from a shape, not a layer, so the network "
                f"has no path from its input to it"
            )
        outputs[current] = get_output(
            built, inputs={p: outputs[p] for p in parents}, deterministic=True
        )
    return outputs[layer], swapped


def _pick(scores, index):
    """``scores[i, index[i]]`` for each row ``i``, through a one-hot mask.

    Advanced indexing would do, but its gradient carries a shape assertion that the JAX
    backend drops with a warning, and JAX cannot compile an ``arange`` of run-time length;
    the class positions come from a cumulative sum instead.
    """
    positions = T.cumsum(T.ones_like(scores, dtype="int64"), axis=-1) - 1
    return T.sum(T.switch(T.eq(positions, T.shape_padright(index)), scores, 0), axis=-1)


def _check_choice(value: Any, choices: Sequence[str], who: str, argname: str) -> str:
    if value not in choices:
        raise ValueError(
            f"{who}: {argname}: expected one of {', '.join(map(repr, choices))}, received {value!r}"
        )
    return value


# --------------------------------------------------------------------------------------
# input gradients: saliency, guided backpropagation, deconvnet
# --------------------------------------------------------------------------------------


class InputGradient:
    """The gradient of a class score with respect to the input images, compiled once.

    Parameters
    ----------
    layer : Layer
        The network's output layer, giving class scores ``(batch, classes)``; the network
        must have exactly one :class:`~convnet.layers.InputLayer`.
    method : {"gradient", "guided", "deconvnet"}
        How the backward pass treats rectifiers (see the module description): the true
        gradient (default), guided backpropagation or the deconvnet.
    score : {"logit", "log_prob"}
        The class score differentiated: the pre-softmax logit (default, as Simonyan et al.)
        or the log-probability ``log softmax(logits)``.
    mode : str or pytensor Mode, optional
        The backend (see :func:`convnet.function`).

    Attributes
    ----------
    num_rectifiers : int
        How many rectifying layers the method swapped (0 for ``"gradient"``).

    Notes
    -----
    ``fn(images, target)`` returns the gradient ``d score[target] / d images``, shape
    ``images.shape``. ``target=None`` explains the predicted class of each image. The images
    do not interact (the network runs with ``deterministic=True``), so the gradient of the
    summed scores is each image's own gradient.

    Warns
    -----
    UserWarning
        If ``method`` is ``"guided"`` or ``"deconvnet"`` and the network has no rectifier,
        so that the result is the plain gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.nonlinearities import softmax
    >>> from convnet.interpret import InputGradient
    >>> l_in = InputLayer((None, 3))
    >>> W = np.array([[1.0, -1.0], [2.0, 0.0], [0.0, 3.0]])
    >>> net = DenseLayer(l_in, 2, W=W, nonlinearity=softmax)
    >>> grad = InputGradient(net)
    >>> grad(np.ones((1, 3)), target=1)  # d logit_1 / d x = W[:, 1]
    array([[-1.,  0.,  3.]])
    """

    def __init__(
        self,
        layer: Layer,
        method: str = "gradient",
        score: str = "logit",
        mode: Any = None,
    ):
        who = "InputGradient"
        _check_choice(method, _METHODS, who, "method")
        _check_choice(score, _SCORES, who, "score")
        self.input_layer = _single_input_layer(layer, who)
        self.num_classes = _num_classes(layer, who)
        self.layer, self.method, self.score = layer, method, score
        x = self.input_layer.input_var.type("images")
        target = T.lvector("target")
        logits, self.num_rectifiers = _logits(
            layer, self.input_layer, x, None if method == "gradient" else method
        )
        if method != "gradient" and self.num_rectifiers == 0:
            warnings.warn(
                f"InputGradient: method={method!r}: the network has no rectifier "
                f"(rectify or LeakyRectify) to modify, so the result is the plain gradient",
                UserWarning,
                stacklevel=2,
            )
        scores = T.special.log_softmax(logits, axis=-1) if score == "log_prob" else logits
        chosen = T.switch(T.lt(target, 0), T.argmax(logits, axis=-1), target)
        total = _pick(scores, chosen).sum()
        self._fn = function([x, target], [T.grad(total, x), chosen], mode=mode)

    def __call__(self, images: Any, target: Any = None, batch_size: int | None = 256) -> np.ndarray:
        """Return the gradient for ``images`` (shape ``images.shape``).

        Parameters
        ----------
        images : array
            Shape of the network's input, ``(batch, channels, rows, cols)`` for images.
        target : int, sequence of int or None
            The class to explain, for all images or one per image; None (default) explains
            each image's predicted class.
        batch_size : int or None
            Evaluate this many images at a time (default 256); None for all at once.
        """
        return self.explain(images, target, batch_size)[0]

    def explain(
        self, images: Any, target: Any = None, batch_size: int | None = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like calling the object, also returning the class explained for each image."""
        who = f"InputGradient(method={self.method!r})"
        x = _check_images(images, self.input_layer, who)
        t = _check_targets(target, x.shape[0], self.num_classes, who, "target")
        if t is None:
            t = np.full(x.shape[0], -1, dtype=np.int64)
        grads, chosen = _batched(self._fn, [x, t], batch_size)
        return grads, chosen


def saliency_map(
    layer: Layer,
    images: Any,
    target: Any = None,
    score: str = "logit",
    mode: Any = None,
    batch_size: int | None = 256,
) -> np.ndarray:
    """Image-specific class saliency (Simonyan et al. 2014).

    The magnitude of the gradient of a class score with respect to each input pixel,
    maximized over the channels: ``max_c |d score / d x[c, i, j]|``. Pixels with large
    values are those whose change moves the score most.

    Parameters
    ----------
    layer : Layer
        The network's output layer (class scores; see :class:`InputGradient`).
    images : array, shape (batch, channels, \\*spatial)
        The input images.
    target : int, sequence of int or None
        The class to explain (default None: each image's predicted class).
    score : {"logit", "log_prob"}
        The pre-softmax score (default) or the log-probability.
    mode : str or pytensor Mode, optional
        The backend (see :func:`convnet.function`).
    batch_size : int or None
        Images evaluated at a time (default 256).

    Returns
    -------
    ndarray, shape (batch, \\*spatial)
        Nonnegative saliency, in the input's dtype.

    See Also
    --------
    InputGradient : the signed gradient, compiled once for repeated use.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer, ReshapeLayer
    >>> from convnet.interpret import saliency_map
    >>> l_in = InputLayer((None, 2, 1, 2))
    >>> W = np.array([[1.0], [-4.0], [2.0], [0.5]])  # channel 0: (1, -4), channel 1: (2, 0.5)
    >>> net = DenseLayer(l_in, 1, W=W, nonlinearity=None)
    >>> saliency_map(net, np.zeros((1, 2, 1, 2)), target=0)
    array([[[2., 4.]]])
    """
    grads = InputGradient(layer, "gradient", score, mode)(images, target, batch_size)
    return np.abs(grads).max(axis=1)


def guided_backprop(
    layer: Layer,
    images: Any,
    target: Any = None,
    score: str = "logit",
    mode: Any = None,
    batch_size: int | None = 256,
) -> np.ndarray:
    """Guided backpropagation (Springenberg et al. 2015).

    The gradient of a class score with respect to the input, where each rectifier passes
    back only positive gradients, and only where its input was positive:
    ``max(g, 0) * [x > 0]`` (see the module description for leaky rectifiers).

    Parameters
    ----------
    layer, images, target, score, mode, batch_size
        As for :func:`saliency_map`.

    Returns
    -------
    ndarray, shape (batch, channels, \\*spatial)
        The signed guided gradient, in the input's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.interpret import guided_backprop
    >>> l_in = InputLayer((None, 2))
    >>> hidden = DenseLayer(l_in, 2, W=np.eye(2))  # rectify
    >>> net = DenseLayer(hidden, 1, W=np.array([[1.0], [-1.0]]), nonlinearity=None)
    >>> guided_backprop(net, np.array([[1.0, 1.0]]), target=0)  # the -1 path is cut
    array([[1., 0.]])
    """
    fn = InputGradient(layer, "guided", score, mode)
    return fn(images, target, batch_size)


def deconvnet(
    layer: Layer,
    images: Any,
    target: Any = None,
    score: str = "logit",
    mode: Any = None,
    batch_size: int | None = 256,
) -> np.ndarray:
    """The deconvnet view (Zeiler & Fergus 2014) of a class score, projected to the input.

    The backward pass of the network with each rectifier applied to the backward signal
    instead of masking it by the forward activations, ``max(g, 0)``; convolutions
    run transposed and max-pooling routes through its switches, as in the deconvnet.

    Parameters
    ----------
    layer, images, target, score, mode, batch_size
        As for :func:`saliency_map`.

    Returns
    -------
    ndarray, shape (batch, channels, \\*spatial)
        The signed reconstruction, in the input's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.interpret import deconvnet
    >>> l_in = InputLayer((None, 2))
    >>> hidden = DenseLayer(l_in, 2, W=np.eye(2))  # rectify
    >>> net = DenseLayer(hidden, 1, W=np.array([[1.0], [-1.0]]), nonlinearity=None)
    >>> deconvnet(net, np.array([[-1.0, 1.0]]), target=0)  # passes where x < 0 too
    array([[1., 0.]])
    """
    fn = InputGradient(layer, "deconvnet", score, mode)
    return fn(images, target, batch_size)


# --------------------------------------------------------------------------------------
# adversarial and fooling images
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(repr=False)
class AttackResult:
    """Images before and after an attack, with their predictions.

    Attributes
    ----------
    original : ndarray, shape (batch, channels, \\*spatial)
        The images attacked (for :func:`fooling_images`, the starting noise).
    adversarial : ndarray, same shape
        The attacked images.
    original_label, label : ndarray of int, shape (batch,)
        The predicted class before and after the attack.
    original_confidence, confidence : ndarray of float, shape (batch,)
        The predicted class's probability before and after.
    target : ndarray of int, shape (batch,), or None
        The class the attack aimed at (None for an untargeted attack).
    target_confidence : ndarray of float, shape (batch,), or None
        The probability of ``target`` after the attack.
    success : ndarray of bool, shape (batch,)
        Whether the attack reached its goal: a new label (untargeted), the target label
        (targeted) or the requested confidence (fooling images).
    clip : tuple of float or None
        The valid pixel range the images were kept in.
    method : str
        The attack: ``"fgsm"``, ``"targeted"`` or ``"fooling"``.
    """

    original: np.ndarray
    adversarial: np.ndarray
    original_label: np.ndarray
    original_confidence: np.ndarray
    label: np.ndarray
    confidence: np.ndarray
    target: np.ndarray | None
    target_confidence: np.ndarray | None
    success: np.ndarray
    clip: tuple[float, float] | None
    method: str

    @property
    def perturbation(self) -> np.ndarray:
        """``adversarial - original`` (float64)."""
        return self.adversarial.astype(np.float64) - self.original.astype(np.float64)

    @property
    def l2(self) -> np.ndarray:
        """The Euclidean norm of each image's perturbation, shape (batch,)."""
        d = self.perturbation.reshape(len(self.original), -1)
        return np.sqrt((d * d).sum(axis=1))

    @property
    def linf(self) -> np.ndarray:
        """The largest absolute change of a pixel in each image, shape (batch,)."""
        return np.abs(self.perturbation.reshape(len(self.original), -1)).max(axis=1)

    def __repr__(self) -> str:
        """One line: the attack, the images' shape, the success rate and the perturbation
        sizes (the arrays themselves are attributes)."""
        n = len(self.original)
        hits = int(np.count_nonzero(self.success))
        target = "" if self.target is None else ", targeted"
        norms = ""
        if n:
            norms = f", mean L2 {float(self.l2.mean()):.4g}, max Linf {float(self.linf.max()):.4g}"
        return (
            f"AttackResult(method={self.method!r}{target}, images {tuple(self.original.shape)}"
            f" {self.original.dtype}, success {hits}/{n}{norms})"
        )


class Classifier:
    """A network compiled once for attacks: class probabilities and the loss gradient.

    :func:`fgsm`, :func:`targeted_attack` and :func:`fooling_images` accept a Classifier
    in place of the output layer, so that several attacks on one network compile it once.

    Parameters
    ----------
    layer : Layer
        The network's output layer, giving class scores ``(batch, classes)`` (see the
        module description); the network must have exactly one
        :class:`~convnet.layers.InputLayer`.
    mode : str or pytensor Mode, optional
        The backend (see :func:`convnet.function`).

    Attributes
    ----------
    layer : Layer
        The output layer.
    input_layer : InputLayer
        The network's input layer.
    num_classes : int or None
        The number of classes, from the output shape.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.nonlinearities import softmax
    >>> from convnet.interpret import Classifier
    >>> l_in = InputLayer((None, 2))
    >>> net = DenseLayer(l_in, 2, W=np.array([[1.0, -1.0], [-1.0, 1.0]]), nonlinearity=softmax)
    >>> clf = Classifier(net)
    >>> clf.predict_proba(np.array([[1.0, 1.0]]))
    array([[0.5, 0.5]])
    >>> clf.loss_gradient(np.array([[1.0, 1.0]]), labels=[0])  # d (-log p_0) / dx
    array([[-1.,  1.]])
    """

    def __init__(self, layer: Layer, mode: Any = None):
        who = "Classifier"
        self.layer = layer
        self.input_layer = _single_input_layer(layer, who)
        self.num_classes = _num_classes(layer, who)
        x = self.input_layer.input_var.type("images")
        target = T.lvector("target")
        logits, _ = _logits(layer, self.input_layer, x, None)
        logp = T.special.log_softmax(logits, axis=-1)
        nll = -_pick(logp, target)
        self._fn = function([x, target], [T.exp(logp), nll, T.grad(nll.sum(), x)], mode=mode)

    def __call__(self, x: np.ndarray, target: np.ndarray | None = None, batch_size=256):
        """Probabilities, per-image cross-entropy and its gradient for checked arrays."""
        if target is None:
            target = np.zeros(x.shape[0], dtype=np.int64)
        x = x.astype(self.input_layer.input_var.dtype, copy=False)
        return _batched(self._fn, [x, target], batch_size)

    def predict(self, x: np.ndarray, batch_size=256) -> tuple[np.ndarray, np.ndarray]:
        probs = self(x, None, batch_size)[0]
        return probs.argmax(axis=1), probs

    def predict_proba(self, images: Any, batch_size: int | None = 256) -> np.ndarray:
        """Class probabilities ``softmax(logits)``, shape ``(batch, classes)``."""
        x = _check_images(images, self.input_layer, "Classifier.predict_proba")
        return self(x, None, batch_size)[0]

    def loss_gradient(self, images: Any, labels: Any, batch_size: int | None = 256):
        """The gradient of each image's cross-entropy ``-log p[label]``, shape of images."""
        who = "Classifier.loss_gradient"
        x = _check_images(images, self.input_layer, who)
        t = _check_targets(labels, x.shape[0], self.num_classes, who, "labels")
        if t is None:
            raise TypeError(f"{who}: labels: expected an int or a sequence of ints, received None")
        return self(x, t, batch_size)[2]


def _classifier(layer: Any, mode: Any, who: str) -> Classifier:
    if isinstance(layer, Classifier):
        return layer
    try:
        return Classifier(layer, mode)
    except (TypeError, ValueError) as exc:
        raise type(exc)(str(exc).replace("Classifier:", f"{who}:", 1)) from None


def _result(
    clf: Classifier,
    original: np.ndarray,
    adversarial: np.ndarray,
    target: np.ndarray | None,
    clip: tuple[float, float] | None,
    success: Callable[[np.ndarray, np.ndarray], np.ndarray],
    batch_size: int | None,
    method: str,
) -> AttackResult:
    label0, probs0 = clf.predict(original, batch_size)
    label, probs = clf.predict(adversarial, batch_size)
    rows = np.arange(len(original))
    return AttackResult(
        original=original,
        adversarial=adversarial,
        original_label=label0,
        original_confidence=probs0[rows, label0],
        label=label,
        confidence=probs[rows, label],
        target=target,
        target_confidence=None if target is None else probs[rows, target],
        success=success(label, probs),
        clip=clip,
        method=method,
    )


def fgsm(
    layer: Layer,
    images: Any,
    labels: Any = None,
    epsilon: float = 0.1,
    target: Any = None,
    clip: tuple[float, float] | None = (0.0, 1.0),
    mode: Any = None,
    batch_size: int | None = 256,
) -> AttackResult:
    """The fast gradient sign method (Goodfellow et al. 2015).

    One step of size ``epsilon`` per pixel along the sign of the gradient of the
    cross-entropy loss: ``x + epsilon * sign(d loss(x, label) / dx)`` moves away from the
    true class; with a ``target``, ``x - epsilon * sign(d loss(x, target) / dx)`` moves
    towards it. The result is clipped to ``clip``.

    Parameters
    ----------
    layer : Layer or Classifier
        The network's output layer, or the network compiled by :class:`Classifier`.
    images : array, shape (batch, channels, \\*spatial)
        The images to attack, within ``clip``.
    labels : int, sequence of int or None
        The true classes (default None: the network's predictions).
    epsilon : float
        The step per pixel, i.e. the L-infinity size of the perturbation before clipping
        (default 0.1).
    target : int, sequence of int or None
        A class to move towards (targeted FGSM); default None (untargeted).
    clip : (float, float) or None
        The valid pixel range (default ``(0, 1)``); None for no clipping.
    mode : str or pytensor Mode, optional
        The backend.
    batch_size : int or None
        Images evaluated at a time (default 256).

    Returns
    -------
    AttackResult
        ``success`` is ``label != labels`` (untargeted) or ``label == target``.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.nonlinearities import softmax
    >>> from convnet.interpret import fgsm
    >>> l_in = InputLayer((None, 2))
    >>> net = DenseLayer(l_in, 2, W=np.array([[1.0, -1.0], [-1.0, 1.0]]), nonlinearity=softmax)
    >>> r = fgsm(net, np.array([[0.6, 0.5]]), epsilon=0.1)
    >>> r.adversarial, r.original_label, r.label, r.linf
    (array([[0.5, 0.6]]), array([0]), array([1]), array([0.1]))
    """
    who = "fgsm"
    clip = _check_clip(clip, who)
    if not np.isscalar(epsilon) or not float(epsilon) > 0:
        raise ValueError(f"{who}: epsilon: expected a positive number, received {epsilon!r}")
    clf = _classifier(layer, mode, who)
    x = _check_images(images, clf.input_layer, who)
    _check_in_range(x, clip, who, "images")
    n = x.shape[0]
    labels = _check_targets(labels, n, clf.num_classes, who, "labels")
    target = _check_targets(target, n, clf.num_classes, who, "target")
    if labels is None:
        labels = clf.predict(x, batch_size)[0]
    aim = labels if target is None else target
    grad = clf(x, aim, batch_size)[2]
    direction = np.sign(grad) if target is None else -np.sign(grad)
    adv = x.astype(np.float64) + float(epsilon) * direction
    if clip is not None:
        adv = np.clip(adv, *clip)
    adv = adv.astype(x.dtype)
    if target is None:
        success = lambda label, probs: label != labels  # noqa: E731
    else:
        success = lambda label, probs: label == target  # noqa: E731
    return _result(clf, x, adv, target, clip, success, batch_size, "fgsm")


def targeted_attack(
    layer: Layer,
    images: Any,
    target: Any,
    clip: tuple[float, float] | None = (0.0, 1.0),
    initial_const: float = 1.0,
    search_steps: int = 8,
    max_iter: int = 100,
    mode: Any = None,
) -> AttackResult:
    """A small perturbation that makes the network predict a chosen class (Szegedy et al.).

    For each image ``x`` and target class ``t``, box-constrained L-BFGS (scipy's
    ``L-BFGS-B``, the pixels kept within ``clip``) minimizes

    .. math:: \\lVert x' - x \\rVert_2^2 + c \\cdot \\mathrm{CE}(x', t)

    over the adversarial image :math:`x'`, where CE is the cross-entropy
    :math:`-\\log p_t(x')`. A bisection on :math:`c`, per image (starting at
    ``initial_const``, multiplied by 10 until an attempt succeeds), looks for the smallest
    weight of the loss, hence the smallest perturbation, for which the network predicts
    ``t``. The best successful image is returned, or the attempt with the largest :math:`c`
    if none succeeded. The images are optimized together, as one problem whose objective is
    the sum of theirs (its minimizer is each image's own minimizer).

    Parameters
    ----------
    layer : Layer or Classifier
        The network's output layer, or the network compiled by :class:`Classifier`.
    images : array, shape (batch, channels, \\*spatial)
        The images to attack, within ``clip``.
    target : int or sequence of int
        The class each image should be classified as.
    clip : (float, float) or None
        The valid pixel range (default ``(0, 1)``); None for no bounds.
    initial_const : float
        The first :math:`c` tried (default 1).
    search_steps : int
        How many values of :math:`c` to try (default 8).
    max_iter : int
        L-BFGS-B iterations per value of :math:`c` (default 100).
    mode : str or pytensor Mode, optional
        The backend.

    Returns
    -------
    AttackResult
        ``success`` is ``label == target``.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.nonlinearities import softmax
    >>> from convnet.interpret import targeted_attack
    >>> l_in = InputLayer((None, 2))
    >>> net = DenseLayer(l_in, 2, W=np.array([[1.0, -1.0], [-1.0, 1.0]]), nonlinearity=softmax)
    >>> r = targeted_attack(net, np.array([[0.6, 0.5]]), target=1)
    >>> r.label, bool(r.l2[0] < 0.2)
    (array([1]), True)
    """
    from scipy.optimize import Bounds, minimize

    who = "targeted_attack"
    clip = _check_clip(clip, who)
    for argname, value in (("search_steps", search_steps), ("max_iter", max_iter)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{who}: {argname}: expected a positive int, received {value!r}")
    if not np.isscalar(initial_const) or not float(initial_const) > 0:
        raise ValueError(
            f"{who}: initial_const: expected a positive number, received {initial_const!r}"
        )
    clf = _classifier(layer, mode, who)
    x = _check_images(images, clf.input_layer, who)
    _check_in_range(x, clip, who, "images")
    if target is None:
        raise TypeError(f"{who}: target: expected an int or a sequence of ints, received None")
    target = _check_targets(target, x.shape[0], clf.num_classes, who, "target")
    n = x.shape[0]
    x0 = x.astype(np.float64).reshape(n, -1)
    bounds = None if clip is None else Bounds(clip[0], clip[1])
    c = np.full(n, float(initial_const))
    lo, hi = np.zeros(n), np.full(n, np.inf)
    best, best_norm = x0.copy(), np.full(n, np.inf)
    last = x0

    def objective(flat):
        z = flat.reshape(n, -1)
        _, nll, grad = clf(z.reshape(x.shape), target, None)
        d = z - x0
        value = float((d * d).sum() + (c * nll).sum())
        return value, (2.0 * d + c[:, None] * grad.reshape(n, -1)).ravel()

    for _ in range(search_steps):
        res = minimize(
            objective,
            x0.ravel(),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iter},
        )
        z = res.x.reshape(n, -1)
        if clip is not None:
            z = np.clip(z, *clip)
        last = z
        ok = clf.predict(z.reshape(x.shape), None)[0] == target
        norm = np.linalg.norm(z - x0, axis=1)
        better = ok & (norm < best_norm)
        best[better], best_norm[better] = z[better], norm[better]
        hi = np.where(ok, c, hi)
        lo = np.where(ok, lo, c)
        c = np.where(np.isinf(hi), 10.0 * c, 0.5 * (lo + hi))
    found = np.isfinite(best_norm)
    adversarial = np.where(found[:, None], best, last).reshape(x.shape).astype(x.dtype)
    success = lambda label, probs: label == target  # noqa: E731
    return _result(clf, x, adversarial, target, clip, success, None, "targeted")


def _gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    spatial = images.ndim - 2
    return gaussian_filter(images, sigma=(0, 0) + (sigma,) * spatial, mode="nearest")


def fooling_images(
    layer: Layer,
    target: Any,
    confidence: float = 0.99,
    steps: int = 500,
    step_size: float = 0.02,
    l2_decay: float = 1e-3,
    blur_sigma: float = 0.5,
    blur_every: int = 10,
    clip: tuple[float, float] | None = (0.0, 1.0),
    start: Any = None,
    seed: int = 0,
    mode: Any = None,
) -> AttackResult:
    """Unrecognizable images classified with high confidence (Nguyen et al. 2015).

    The gradient-ascent variant: from random noise, repeated steps increase the target's
    log-probability :math:`\\log p_t(x)` minus an L2 penalty
    ``l2_decay * ||x - m||^2`` towards the middle ``m`` of the pixel range, each step
    scaled so that no pixel changes by more than ``step_size``; every ``blur_every``
    steps a Gaussian blur of width ``blur_sigma`` pixels smooths the image (a regularizer
    that favours larger structures), and the pixels are kept within ``clip``. An image stops
    changing once its target probability reaches ``confidence``.

    Parameters
    ----------
    layer : Layer or Classifier
        The network's output layer, or the network compiled by :class:`Classifier`.
    target : int or sequence of int
        The class each image should be taken for; a sequence gives one image per entry
        (with ``start`` given, an int applies to all its images).
    confidence : float
        The probability to reach, in (0, 1) (default 0.99).
    steps : int
        The most ascent steps (default 500).
    step_size : float
        The largest change of a pixel per step (default 0.02).
    l2_decay : float
        The weight of the L2 penalty (default 1e-3; 0 for none).
    blur_sigma : float
        The standard deviation of the blur in pixels (default 0.5; 0 for no blur).
    blur_every : int
        Blur after every this many steps (default 10).
    clip : (float, float) or None
        The valid pixel range (default ``(0, 1)``); the starting noise is uniform in it.
        With None the noise is standard normal and pixels are unbounded.
    start : array, optional
        Starting images instead of noise, shape ``(batch, channels, *spatial)``.
    seed : int
        Seed of the starting noise (default 0).
    mode : str or pytensor Mode, optional
        The backend.

    Returns
    -------
    AttackResult
        ``original`` is the starting noise; ``success`` is ``target_confidence >=
        confidence``.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.nonlinearities import softmax
    >>> from convnet.interpret import fooling_images
    >>> l_in = InputLayer((None, 1, 2, 2))
    >>> W = np.array([[2.0, -2.0], [2.0, -2.0], [-2.0, 2.0], [-2.0, 2.0]])
    >>> net = DenseLayer(l_in, 2, W=W, nonlinearity=softmax)
    >>> r = fooling_images(net, target=[0, 1], confidence=0.9, blur_sigma=0)
    >>> r.label, bool(np.all(r.target_confidence >= 0.9))
    (array([0, 1]), True)
    """
    who = "fooling_images"
    clip = _check_clip(clip, who)
    if not 0 < float(confidence) < 1:
        raise ValueError(f"{who}: confidence: expected a number in (0, 1), received {confidence!r}")
    for argname, value in (("steps", steps), ("blur_every", blur_every)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{who}: {argname}: expected a positive int, received {value!r}")
    if not float(step_size) > 0:
        raise ValueError(f"{who}: step_size: expected a positive number, received {step_size!r}")
    for argname, value in (("l2_decay", l2_decay), ("blur_sigma", blur_sigma)):
        if float(value) < 0:
            raise ValueError(f"{who}: {argname}: expected a number >= 0, received {value!r}")
    clf = _classifier(layer, mode, who)
    in_shape = tuple(clf.input_layer.shape)
    if start is not None:
        x = _check_images(start, clf.input_layer, who, "start")
        _check_in_range(x, clip, who, "start")
    else:
        if target is None or np.ndim(target) > 1:
            raise TypeError(
                f"{who}: target: expected an int or a sequence of ints, received {target!r}"
            )
        if any(s is None for s in in_shape[1:]):
            raise ValueError(
                f"{who}: the input shape {in_shape} of {_label(clf.input_layer)} has unknown "
                f"sizes; pass start images to fix the image size"
            )
        n = 1 if np.ndim(target) == 0 else len(target)
        rng = np.random.default_rng(seed)
        size = (n,) + in_shape[1:]
        noise = rng.standard_normal(size) if clip is None else rng.uniform(*clip, size=size)
        x = noise.astype(clf.input_layer.input_var.dtype)
    if target is None:
        raise TypeError(f"{who}: target: expected an int or a sequence of ints, received None")
    target = _check_targets(target, x.shape[0], clf.num_classes, who, "target")
    rows = np.arange(x.shape[0])
    center = 0.0 if clip is None else 0.5 * (clip[0] + clip[1])
    z = x.astype(np.float64)
    done = np.zeros(x.shape[0], dtype=bool)
    for step in range(steps):
        probs, _, grad = clf(z, target)
        done |= probs[rows, target] >= confidence
        if done.all():
            break
        active = ~done
        ascent = -grad[active].astype(np.float64) - 2.0 * l2_decay * (z[active] - center)
        scale = np.abs(ascent.reshape(len(ascent), -1)).max(axis=1)
        scale = np.where(scale > 0, scale, 1.0).reshape((-1,) + (1,) * (z.ndim - 1))
        z[active] += step_size * ascent / scale
        if blur_sigma > 0 and (step + 1) % blur_every == 0:
            z[active] = _gaussian_blur(z[active], float(blur_sigma))
        if clip is not None:
            z[active] = np.clip(z[active], *clip)
    adversarial = z.astype(x.dtype)
    return _result(
        clf,
        x,
        adversarial,
        target,
        clip,
        lambda label, probs: probs[rows, target] >= confidence,
        None,
        "fooling",
    )


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------


def _display_image(image: np.ndarray, clip: tuple[float, float] | None):
    """(C, H, W) -> (H, W) or (H, W, 3) scaled to [0, 1] for imshow, with its cmap."""
    img = np.asarray(image, dtype=np.float64)
    if clip is not None:
        img = (img - clip[0]) / (clip[1] - clip[0])
    else:
        lo, hi = img.min(), img.max()
        img = (img - lo) / (hi - lo) if hi > lo else np.full_like(img, 0.5)
    img = np.clip(img, 0.0, 1.0)
    if img.ndim == 3 and img.shape[0] == 3:
        return img.transpose(1, 2, 0), None
    if img.ndim == 3:
        img = img.mean(axis=0)
    return img, "gray"


def _display_signed(values: np.ndarray):
    """Signed (C, H, W) or (H, W) values for imshow: arguments of imshow."""
    v = np.asarray(values, dtype=np.float64)
    m = float(np.abs(v).max()) or 1.0
    if v.ndim == 3 and v.shape[0] == 3:
        return {"X": np.clip(0.5 + 0.5 * v.transpose(1, 2, 0) / m, 0, 1)}
    if v.ndim == 3:
        v = v.sum(axis=0) if v.shape[0] > 1 else v[0]
        m = float(np.abs(v).max()) or 1.0
    return {"X": v, "cmap": "RdBu_r", "vmin": -m, "vmax": m}


def plot_saliency(
    images: Any,
    maps: Mapping[str, Any] | Any,
    path: str | os.PathLike | None = None,
    show: bool = False,
    titles: Sequence[str] | None = None,
    clip: tuple[float, float] | None = None,
    dpi: int = 100,
):
    """Show images beside their explanations, one row per image.

    Parameters
    ----------
    images : array, shape (batch, channels, \\*spatial)
        The input images (1 or 3 channels shown as grey or colour).
    maps : array or dict of str to array
        One explanation per image, or several by name (one column each): a nonnegative
        map ``(batch, rows, cols)`` such as :func:`saliency_map` is drawn as a heat map, a
        signed ``(batch, channels, rows, cols)`` gradient such as :func:`guided_backprop`
        as colour (3 channels; grey is 0) or in red (positive) and blue (negative).
    path : str or path-like, optional
        Where to save the figure (PNG; the format follows the extension).
    show : bool
        Open the figure in a window (``matplotlib.pyplot.show``); default False.
    titles : sequence of str, optional
        One title per image (e.g. its label), shown above the image.
    clip : (float, float), optional
        The images' pixel range, for display; default their own minimum and maximum.
    dpi : int
        Resolution (default 100).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> import numpy as np
    >>> from convnet.interpret import plot_saliency
    >>> images = np.random.default_rng(0).uniform(size=(2, 1, 8, 8))
    >>> path = os.path.join(tempfile.mkdtemp(), "saliency.png")
    >>> fig = plot_saliency(images, {"saliency": np.abs(images[:, 0])}, path)
    >>> pathlib.Path(path).read_bytes()[:4]
    b'\\x89PNG'
    """
    from .visualize import _finish_figure, _new_figure

    who = "plot_saliency"
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"{who}: images: expected shape (batch, channels, rows, cols), received {images.shape}"
        )
    if not isinstance(maps, Mapping):
        maps = {"explanation": maps}
    columns = {}
    for name, value in maps.items():
        value = np.asarray(value)
        if value.shape[0] != images.shape[0] or value.shape[-2:] != images.shape[-2:]:
            raise ValueError(
                f"{who}: maps[{name!r}]: expected one map per image with the images' size "
                f"{images.shape[-2:]}, received shape {value.shape} for {images.shape[0]} images"
            )
        columns[name] = value
    n, k = images.shape[0], 1 + len(columns)
    fig = _new_figure(who, show, (2.0 * k, 2.0 * n + 0.3), dpi)
    axes = fig.subplots(n, k, squeeze=False)
    for i in range(n):
        img, cmap = _display_image(images[i], clip)
        axes[i, 0].imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        if titles is not None:
            axes[i, 0].set_title(str(titles[i]), fontsize=9)
        elif i == 0:
            axes[i, 0].set_title("image", fontsize=9)
        for j, (name, value) in enumerate(columns.items(), start=1):
            if value.ndim == 3:
                axes[i, j].imshow(value[i], cmap="magma", interpolation="nearest")
            else:
                axes[i, j].imshow(interpolation="nearest", **_display_signed(value[i]))
            if i == 0:
                axes[i, j].set_title(name, fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return _finish_figure(fig, path, show)


def plot_attack(
    result: AttackResult,
    index: int = 0,
    path: str | os.PathLike | None = None,
    show: bool = False,
    class_names: Sequence[str] | None = None,
    dpi: int = 100,
):
    """Show one attacked image: original | perturbation | adversarial, with predictions.

    Parameters
    ----------
    result : AttackResult
        From :func:`fgsm`, :func:`targeted_attack` or :func:`fooling_images`.
    index : int
        Which image of the batch (default 0).
    path : str or path-like, optional
        Where to save the figure (PNG; the format follows the extension).
    show : bool
        Open the figure in a window; default False.
    class_names : sequence of str, optional
        Names of the classes, for the labels.
    dpi : int
        Resolution (default 100).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.nonlinearities import softmax
    >>> from convnet.interpret import fgsm, plot_attack
    >>> l_in = InputLayer((None, 1, 1, 2))
    >>> net = DenseLayer(l_in, 2, W=np.array([[1.0, -1.0], [-1.0, 1.0]]), nonlinearity=softmax)
    >>> r = fgsm(net, np.array([[[[0.6, 0.5]]]]), epsilon=0.1)
    >>> path = os.path.join(tempfile.mkdtemp(), "attack.png")
    >>> fig = plot_attack(r, path=path, class_names=["left", "right"])
    >>> pathlib.Path(path).read_bytes()[:4]
    b'\\x89PNG'
    """
    from .visualize import _finish_figure, _new_figure

    who = "plot_attack"
    if not isinstance(result, AttackResult):
        raise TypeError(
            f"{who}: result: expected an AttackResult, received {type(result).__name__}"
        )
    n = len(result.original)
    if not -n <= index < n:
        raise ValueError(f"{who}: index: expected an int in [0, {n}), received {index!r}")

    def name(label):
        label = int(label)
        return repr(class_names[label]) if class_names is not None else str(label)

    before, after = result.original[index], result.adversarial[index]
    if before.ndim != 3:
        raise ValueError(
            f"{who}: expected images of shape (channels, rows, cols), received {before.shape}"
        )
    fooling = result.method == "fooling"
    fig = _new_figure(who, show, (7.5, 2.9), dpi)
    axes = fig.subplots(1, 3)
    img, cmap = _display_image(before, result.clip)
    axes[0].imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    axes[0].set_title(
        f"{'start' if fooling else 'original'}: {name(result.original_label[index])}\n"
        f"({result.original_confidence[index]:.1%})",
        fontsize=9,
    )
    axes[1].imshow(interpolation="nearest", **_display_signed(result.perturbation[index]))
    axes[1].set_title(
        f"{'change' if fooling else 'perturbation'}\n"
        f"L2 {result.l2[index]:.3g}, Linf {result.linf[index]:.3g}",
        fontsize=9,
    )
    img, cmap = _display_image(after, result.clip)
    axes[2].imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    title = (
        f"{'fooling' if fooling else 'adversarial'}: {name(result.label[index])}\n"
        f"({result.confidence[index]:.1%})"
    )
    if result.target is not None and result.target[index] != result.label[index]:
        title += f", target {name(result.target[index])}"
    axes[2].set_title(title, fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return _finish_figure(fig, path, show)
