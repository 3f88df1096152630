"""Adversarial and fooling images: inputs that change or fake a network's decision.

:class:`Classifier` compiles a network once (class probabilities, the cross-entropy and its
input gradient); :func:`fgsm`, :func:`targeted_attack` and :func:`fooling_images` use it and
return an :class:`AttackResult`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytensor.tensor as T
from pytensor.compile.mode import Mode

from .. import _checks
from .._types import ArrayLike
from ..backend import function
from ..layers import Layer
from ..layers._inputs import batched, check_images, single_input_layer
from ._scores import check_targets, network_logits, num_classes, pick

__all__ = ["AttackResult", "Classifier", "fgsm", "targeted_attack", "fooling_images"]


def _check_clip(clip: Any, caller: str) -> tuple[float, float] | None:
    """``(lo, hi)`` as floats with ``lo < hi``, or None."""
    if clip is None:
        return None
    try:
        lo, hi = (float(c) for c in clip)
    except (TypeError, ValueError):
        raise TypeError(
            f"{caller}: clip: expected a pair (lo, hi) of numbers or None, received {clip!r}"
        ) from None
    if not lo < hi:
        raise ValueError(f"{caller}: clip: expected lo < hi, received {clip!r}")
    return lo, hi


def _check_in_range(
    images: np.ndarray, clip: tuple[float, float] | None, caller: str, argname: str
) -> None:
    """ValueError if ``images`` has values outside ``clip``."""
    if clip is None:
        return
    lo, hi = clip
    mn, mx = float(images.min()), float(images.max())
    if mn < lo or mx > hi:
        raise ValueError(
            f"{caller}: {argname}: expected values within clip=({lo:g}, {hi:g}), received values "
            f"in [{mn:g}, {mx:g}]; rescale the images or pass the range they use as clip"
        )


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
        description of :mod:`convnet.interpret`); the network must have exactly one
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

    def __init__(self, layer: Layer, mode: str | Mode | None = None):
        self._compile(layer, mode, "Classifier")

    @classmethod
    def _for(cls, layer: Layer, mode: str | Mode | None, caller: str) -> Classifier:
        """``Classifier(layer, mode)`` whose argument errors start with ``caller``."""
        clf = cls.__new__(cls)
        clf._compile(layer, mode, caller)
        return clf

    def _compile(self, layer: Layer, mode: str | Mode | None, caller: str) -> None:
        self.layer = layer
        self.input_layer = single_input_layer(layer, caller=caller)
        self.num_classes = num_classes(layer, caller=caller)
        x = self.input_layer.input_var.type("images")
        target = T.lvector("target")
        logits, _ = network_logits(layer, self.input_layer, x, None)
        logp = T.special.log_softmax(logits, axis=-1)
        nll = -pick(logp, target)
        self._fn = function([x, target], [T.exp(logp), nll, T.grad(nll.sum(), x)], mode=mode)

    def __call__(
        self, x: np.ndarray, target: np.ndarray | None = None, batch_size: int | None = 256
    ) -> list[np.ndarray]:
        """Probabilities, per-image cross-entropy and its gradient for checked arrays."""
        if target is None:
            target = np.zeros(x.shape[0], dtype=np.int64)
        x = x.astype(self.input_layer.input_var.dtype, copy=False)
        return batched(self._fn, [x, target], batch_size)

    def predict(self, x: np.ndarray, batch_size: int | None = 256) -> tuple[np.ndarray, np.ndarray]:
        """The predicted classes and the probabilities for a checked array."""
        probs = self(x, None, batch_size)[0]
        return probs.argmax(axis=1), probs

    def predict_proba(self, images: ArrayLike, batch_size: int | None = 256) -> np.ndarray:
        """Class probabilities ``softmax(logits)``, shape ``(batch, classes)``."""
        x = check_images(images, self.input_layer, caller="Classifier.predict_proba")
        return self(x, None, batch_size)[0]

    def loss_gradient(
        self, images: ArrayLike, labels: ArrayLike, batch_size: int | None = 256
    ) -> np.ndarray:
        """The gradient of each image's cross-entropy ``-log p[label]``, shape of images."""
        caller = "Classifier.loss_gradient"
        x = check_images(images, self.input_layer, caller=caller)
        t = check_targets(labels, x.shape[0], self.num_classes, caller=caller, argname="labels")
        if t is None:
            raise TypeError(
                f"{caller}: labels: expected an int or a sequence of ints, received None"
            )
        return self(x, t, batch_size)[2]


def _classifier(layer: Layer | Classifier, mode: str | Mode | None, caller: str) -> Classifier:
    """``layer`` if it is a Classifier, else the Classifier of the network ``layer``."""
    if isinstance(layer, Classifier):
        return layer
    return Classifier._for(layer, mode, caller)


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
    layer: Layer | Classifier,
    images: ArrayLike,
    labels: ArrayLike | None = None,
    epsilon: float = 0.1,
    target: ArrayLike | None = None,
    clip: tuple[float, float] | None = (0.0, 1.0),
    mode: str | Mode | None = None,
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
    caller = "fgsm"
    clip = _check_clip(clip, caller)
    if not np.isscalar(epsilon) or not float(epsilon) > 0:
        raise ValueError(f"{caller}: epsilon: expected a positive number, received {epsilon!r}")
    clf = _classifier(layer, mode, caller)
    x = check_images(images, clf.input_layer, caller=caller)
    _check_in_range(x, clip, caller, "images")
    n = x.shape[0]
    labels = check_targets(labels, n, clf.num_classes, caller=caller, argname="labels")
    target = check_targets(target, n, clf.num_classes, caller=caller, argname="target")
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
    layer: Layer | Classifier,
    images: ArrayLike,
    target: ArrayLike,
    clip: tuple[float, float] | None = (0.0, 1.0),
    initial_const: float = 1.0,
    search_steps: int = 8,
    max_iter: int = 100,
    mode: str | Mode | None = None,
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

    caller = "targeted_attack"
    clip = _check_clip(clip, caller)
    for argname, value in (("search_steps", search_steps), ("max_iter", max_iter)):
        if not _checks.is_int(value) or value < 1:
            raise ValueError(f"{caller}: {argname}: expected a positive int, received {value!r}")
    if not np.isscalar(initial_const) or not float(initial_const) > 0:
        raise ValueError(
            f"{caller}: initial_const: expected a positive number, received {initial_const!r}"
        )
    clf = _classifier(layer, mode, caller)
    x = check_images(images, clf.input_layer, caller=caller)
    _check_in_range(x, clip, caller, "images")
    if target is None:
        raise TypeError(f"{caller}: target: expected an int or a sequence of ints, received None")
    target = check_targets(target, x.shape[0], clf.num_classes, caller=caller, argname="target")
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
    layer: Layer | Classifier,
    target: ArrayLike,
    confidence: float = 0.99,
    steps: int = 500,
    step_size: float = 0.02,
    l2_decay: float = 1e-3,
    blur_sigma: float = 0.5,
    blur_every: int = 10,
    clip: tuple[float, float] | None = (0.0, 1.0),
    start: ArrayLike | None = None,
    seed: int = 0,
    mode: str | Mode | None = None,
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
    caller = "fooling_images"
    clip = _check_clip(clip, caller)
    if not 0 < float(confidence) < 1:
        raise ValueError(
            f"{caller}: confidence: expected a number in (0, 1), received {confidence!r}"
        )
    for argname, value in (("steps", steps), ("blur_every", blur_every)):
        if not _checks.is_int(value) or value < 1:
            raise ValueError(f"{caller}: {argname}: expected a positive int, received {value!r}")
    if not float(step_size) > 0:
        raise ValueError(f"{caller}: step_size: expected a positive number, received {step_size!r}")
    for argname, value in (("l2_decay", l2_decay), ("blur_sigma", blur_sigma)):
        if float(value) < 0:
            raise ValueError(f"{caller}: {argname}: expected a number >= 0, received {value!r}")
    clf = _classifier(layer, mode, caller)
    in_shape = tuple(clf.input_layer.shape)
    if start is not None:
        x = check_images(start, clf.input_layer, caller=caller, argname="start")
        _check_in_range(x, clip, caller, "start")
    else:
        if target is None or np.ndim(target) > 1:
            raise TypeError(
                f"{caller}: target: expected an int or a sequence of ints, received {target!r}"
            )
        if any(s is None for s in in_shape[1:]):
            raise ValueError(
                f"{caller}: the input shape {in_shape} of {_checks.label(clf.input_layer)} has "
                f"unknown sizes; pass start images to fix the image size"
            )
        n = 1 if np.ndim(target) == 0 else len(target)
        rng = np.random.default_rng(seed)
        size = (n,) + in_shape[1:]
        noise = rng.standard_normal(size) if clip is None else rng.uniform(*clip, size=size)
        x = noise.astype(clf.input_layer.input_var.dtype)
    if target is None:
        raise TypeError(f"{caller}: target: expected an int or a sequence of ints, received None")
    target = check_targets(target, x.shape[0], clf.num_classes, caller=caller, argname="target")
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
