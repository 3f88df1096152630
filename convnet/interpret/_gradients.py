"""Input gradients: saliency maps, guided backpropagation and the deconvnet.

Each is the gradient of a class score with respect to the input images; guided
backpropagation and the deconvnet change how the backward pass goes through rectifiers
(:mod:`convnet.interpret` describes the rules).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytensor.tensor as T
from pytensor.compile.mode import Mode

from .._checks import check_choice
from .._types import ArrayLike
from ..backend import function
from ..layers import Layer
from ..layers._inputs import batched, check_images, single_input_layer
from ._scores import check_targets, network_logits, num_classes, pick

__all__ = ["InputGradient", "saliency_map", "guided_backprop", "deconvnet"]

_METHODS = ("gradient", "guided", "deconvnet")
_SCORES = ("logit", "log_prob")


class InputGradient:
    """The gradient of a class score with respect to the input images, compiled once.

    Parameters
    ----------
    layer : Layer
        The network's output layer, giving class scores ``(batch, classes)``; the network
        must have exactly one :class:`~convnet.layers.InputLayer`.
    method : {"gradient", "guided", "deconvnet"}
        How the backward pass treats rectifiers (see :mod:`convnet.interpret`): the true
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
        mode: str | Mode | None = None,
    ):
        caller = "InputGradient"
        check_choice(method, _METHODS, caller=caller, argname="method")
        check_choice(score, _SCORES, caller=caller, argname="score")
        self.input_layer = single_input_layer(layer, caller=caller)
        self.num_classes = num_classes(layer, caller=caller)
        self.layer, self.method, self.score = layer, method, score
        x = self.input_layer.input_var.type("images")
        target = T.lvector("target")
        logits, self.num_rectifiers = network_logits(
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
        total = pick(scores, chosen).sum()
        self._fn = function([x, target], [T.grad(total, x), chosen], mode=mode)

    def __call__(
        self, images: ArrayLike, target: ArrayLike | None = None, batch_size: int | None = 256
    ) -> np.ndarray:
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
        self, images: ArrayLike, target: ArrayLike | None = None, batch_size: int | None = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like calling the object, also returning the class explained for each image."""
        caller = f"InputGradient(method={self.method!r})"
        x = check_images(images, self.input_layer, caller=caller)
        t = check_targets(target, x.shape[0], self.num_classes, caller=caller, argname="target")
        if t is None:
            t = np.full(x.shape[0], -1, dtype=np.int64)
        grads, chosen = batched(self._fn, [x, t], batch_size)
        return grads, chosen


def saliency_map(
    layer: Layer,
    images: ArrayLike,
    target: ArrayLike | None = None,
    score: str = "logit",
    mode: str | Mode | None = None,
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
    images: ArrayLike,
    target: ArrayLike | None = None,
    score: str = "logit",
    mode: str | Mode | None = None,
    batch_size: int | None = 256,
) -> np.ndarray:
    """Guided backpropagation (Springenberg et al. 2015).

    The gradient of a class score with respect to the input, where each rectifier passes
    back only positive gradients, and only where its input was positive:
    ``max(g, 0) * [x > 0]`` (see :mod:`convnet.interpret` for leaky rectifiers).

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
    images: ArrayLike,
    target: ArrayLike | None = None,
    score: str = "logit",
    mode: str | Mode | None = None,
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
