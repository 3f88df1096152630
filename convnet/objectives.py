"""Loss and accuracy expressions for training and evaluating a network (Lasagne's API).

Element- or item-wise losses, built from network predictions and targets:

.. autosummary::
    :nosignatures:

    binary_crossentropy
    categorical_crossentropy
    squared_error
    binary_hinge_loss
    multiclass_hinge_loss
    huber_loss

:func:`aggregate` turns such a loss into the scalar that :mod:`convnet.updates`
differentiates. Two evaluation measures (their gradient is zero almost everywhere, so they
are for validation only):

.. autosummary::
    :nosignatures:

    binary_accuracy
    categorical_accuracy

Any differentiable scalar PyTensor expression can serve as a training objective; these
functions only make the common ones short to write.

Numerical stability
-------------------
The cross-entropies take probabilities, as in Lasagne, and take their logarithm. When the
predictions are *directly* the output of a sigmoid (:func:`binary_crossentropy`) or of a
softmax over the class axis (:func:`categorical_crossentropy`), the loss is computed from
the pre-activation instead, in the stable forms ``softplus(z) - t * z`` and
``-t * log_softmax(z)``: saturated units then give finite losses and gradients. Other
predictions are used as given, without clipping (as in Lasagne): a probability of exactly
0 or 1 on the wrong side gives an infinite loss. If your predictions can saturate that way,
clip them yourself, e.g. ``T.clip(p, 1e-7, 1 - 1e-7)``.

Examples
--------
A 3-way classifier's loss for a batch of two items, with integer class targets, averaged
over the batch:

>>> import numpy as np
>>> import pytensor.tensor as T
>>> import convnet
>>> from convnet.objectives import aggregate, categorical_crossentropy
>>> probs = T.dmatrix("probs")
>>> labels = T.ivector("labels")
>>> loss = aggregate(categorical_crossentropy(probs, labels), mode="mean")
>>> f = convnet.function([probs, labels], loss)
>>> p = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]])
>>> print(f"{float(f(p, np.array([0, 1], dtype='int32'))):.6f}")  # -(log 0.5 + log 0.8) / 2
0.458145
"""

from __future__ import annotations

import warnings

import numpy as np
import pytensor.tensor as T
from pytensor.scalar.math import Sigmoid
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.special import Softmax, log_softmax

from ._checks import check_choice, is_int, is_number
from ._types import TensorLike

__all__ = [
    "binary_crossentropy",
    "categorical_crossentropy",
    "squared_error",
    "binary_hinge_loss",
    "multiclass_hinge_loss",
    "huber_loss",
    "aggregate",
    "binary_accuracy",
    "categorical_accuracy",
]

_AGGREGATE_MODES = ("mean", "sum", "normalized_sum")


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _as_tensor(x: TensorLike, *, caller: str, argname: str) -> T.TensorVariable:
    try:
        return T.as_tensor_variable(x)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise TypeError(
            f"{caller}: expected {argname} to be a PyTensor tensor or array-like, received "
            f"{type(x).__name__}"
        ) from exc


def _shape_str(x: T.TensorVariable | tuple) -> str:
    """A static shape as text, ``?`` for unknown lengths: ``(?, 10)``."""
    shape = x if isinstance(x, tuple) else x.type.shape
    dims = ["?" if s is None else str(s) for s in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _check_broadcastable(
    a: T.TensorVariable, b: T.TensorVariable, names: tuple[str, str], *, caller: str
) -> None:
    """Raise if the static shapes of ``a`` and ``b`` cannot broadcast against each other."""
    for sa, sb in zip(reversed(a.type.shape), reversed(b.type.shape), strict=False):
        if sa is not None and sb is not None and sa != sb and sa != 1 and sb != 1:
            raise ValueError(
                f"{caller}: {names[0]} with shape {_shape_str(a)} and {names[1]} with shape "
                f"{_shape_str(b)} do not broadcast against each other"
            )


def _align_targets(predictions: T.TensorVariable, targets: T.TensorVariable):
    """Turn a target vector into a column when the predictions are a single column.

    A network with one output unit gives predictions of shape (batch, 1); comparing them
    with a target vector of shape (batch,) would otherwise broadcast to (batch, batch).
    As in Lasagne, this needs the predictions' second dimension to be known to be 1.
    """
    if predictions.ndim == 2 and predictions.type.shape[1] == 1 and targets.ndim == 1:
        targets = targets.dimshuffle(0, "x")
    return predictions, targets


def _prepare_pair(
    predictions: TensorLike,
    targets: TensorLike,
    names: tuple[str, str] = ("predictions", "targets"),
    *,
    caller: str,
) -> tuple[T.TensorVariable, T.TensorVariable]:
    predictions = _as_tensor(predictions, caller=caller, argname=names[0])
    targets = _as_tensor(targets, caller=caller, argname=names[1])
    predictions, targets = _align_targets(predictions, targets)
    _check_broadcastable(predictions, targets, names, caller=caller)
    return predictions, targets


def _sigmoid_input(x: T.TensorVariable):
    """The argument ``z`` if ``x`` is ``sigmoid(z)``, else None."""
    node = x.owner
    if node is None or not isinstance(node.op, Elemwise):
        return None
    if isinstance(node.op.scalar_op, Sigmoid):
        return node.inputs[0]
    return None


def _softmax_input(x: T.TensorVariable):
    """The argument ``z`` if ``x`` is a softmax of ``z`` over its last axis, else None."""
    node = x.owner
    if node is None or not isinstance(node.op, Softmax):
        return None
    axis = node.op.axis
    axes = tuple(axis) if isinstance(axis, tuple | list) else (axis,)
    if axes == (None,) and x.ndim == 1:
        return node.inputs[0]
    if len(axes) == 1 and axes[0] is not None and axes[0] % x.ndim == x.ndim - 1:
        return node.inputs[0]
    return None


def _class_targets(
    predictions: TensorLike, targets: TensorLike, *, caller: str
) -> tuple[T.TensorVariable, T.TensorVariable, bool]:
    """Check ``targets`` against ``predictions`` (classes on the last axis).

    Returns ``(predictions, targets, is_index)`` as tensors: ``is_index`` is True for
    integer class indices (one dimension fewer than ``predictions``), False for
    one-hot/probability targets (same number of dimensions).
    """
    predictions = _as_tensor(predictions, caller=caller, argname="predictions")
    targets = _as_tensor(targets, caller=caller, argname="targets")
    if predictions.ndim < 1:
        raise TypeError(
            f"{caller}: expected predictions with a class axis (batch, classes), received a scalar"
        )
    if targets.ndim == predictions.ndim - 1:
        if not targets.dtype.startswith(("int", "uint")):
            raise TypeError(
                f"{caller}: targets with one dimension fewer than predictions must be integer "
                f"class indices, received dtype {targets.dtype}. Pass one-hot targets with "
                f"the predictions' shape {_shape_str(predictions)} instead, or cast the "
                f"indices to an integer type"
            )
        for sp, st in zip(reversed(predictions.type.shape[:-1]), reversed(targets.type.shape)):
            if sp is not None and st is not None and sp != st and sp != 1 and st != 1:
                raise ValueError(
                    f"{caller}: predictions with shape {_shape_str(predictions)} (classes last) "
                    f"and integer targets with shape {_shape_str(targets)} disagree; expected "
                    f"targets of shape {_shape_str(predictions.type.shape[:-1])}"
                )
        return predictions, targets, True
    if targets.ndim == predictions.ndim:
        _check_broadcastable(predictions, targets, ("predictions", "targets"), caller=caller)
        return predictions, targets, False
    raise TypeError(
        f"{caller}: rank mismatch between targets and predictions: expected targets with "
        f"{predictions.ndim - 1} dimensions (integer class indices) or {predictions.ndim} "
        f"dimensions (one-hot, same shape as predictions), received targets of shape "
        f"{_shape_str(targets)} for predictions of shape {_shape_str(predictions)}"
    )


def _index_mask(predictions: T.TensorVariable, index: T.TensorVariable) -> T.TensorVariable:
    """Boolean mask with the shape of ``predictions``, True where the last-axis position
    equals ``index[...]`` (a one-hot encoding of the class indices).

    When the number of classes is known from the graph (a dense layer's output), the
    positions are a constant. Otherwise they come from a cumulative sum rather than
    ``arange``: JAX cannot compile an ``arange`` whose length is only known at run time. The
    constant is also cheaper to compile under numba, where the cumulative sum and the array
    of ones it reads cost about 5 s of a cold compile.
    """
    n_classes = predictions.type.shape[-1]
    if n_classes is not None:
        positions = T.constant(np.arange(n_classes, dtype="int64"))
    else:
        positions = T.cumsum(T.ones_like(predictions, dtype="int64"), axis=-1) - 1
    return T.eq(positions, T.shape_padright(index))


# --------------------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------------------


def binary_crossentropy(predictions: TensorLike, targets: TensorLike) -> T.TensorVariable:
    """Element-wise binary cross-entropy between predictions and targets.

    .. math:: L = -t \\log(p) - (1 - t) \\log(1 - p)

    Parameters
    ----------
    predictions : PyTensor tensor
        Predictions in (0, 1), such as the sigmoid output of a network.
    targets : PyTensor tensor
        Targets in [0, 1], such as ground-truth labels; broadcastable against
        `predictions`. A target vector is turned into a column when `predictions` has
        shape (batch, 1).

    Returns
    -------
    PyTensor tensor
        The element-wise loss, with the broadcast shape of `predictions` and `targets`.

    Notes
    -----
    The loss of choice for binary classification with sigmoid output units. If
    `predictions` is the output of a sigmoid ``p = sigmoid(z)``, the loss is computed as
    ``softplus(z) - t * z``, which stays finite when the unit saturates. Otherwise the
    formula above is applied to `predictions` as given (no clipping).

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as T
    >>> import convnet
    >>> from convnet.objectives import binary_crossentropy
    >>> p, t = T.dvector("p"), T.dvector("t")
    >>> f = convnet.function([p, t], binary_crossentropy(p, t))
    >>> f(np.array([0.5, 0.9]), np.array([1.0, 0.0])).round(4)
    array([0.6931, 2.3026])
    """
    predictions, targets = _prepare_pair(predictions, targets, caller="binary_crossentropy")
    z = _sigmoid_input(predictions)
    if z is not None:
        return T.softplus(z) - targets * z
    return -(targets * T.log(predictions) + (1 - targets) * T.log1p(-predictions))


def categorical_crossentropy(
    predictions: TensorLike, targets: TensorLike, label_smoothing: float = 0.0
) -> T.TensorVariable:
    """Item-wise categorical cross-entropy between predictions and targets.

    .. math:: L_i = - \\sum_j{t_{i,j} \\log(p_{i,j})}

    Parameters
    ----------
    predictions : PyTensor tensor
        Predictions in (0, 1), such as the softmax output of a network, shape
        (batch, classes): items in rows, class probabilities in columns (more leading
        dimensions are allowed; classes are always on the last axis).
    targets : PyTensor tensor
        Either a vector of integer class indices, shape (batch,), or targets in [0, 1]
        with the layout of `predictions` (one-hot rows or class probabilities).
    label_smoothing : float
        In [0, 1). With :math:`\\varepsilon > 0` the targets become
        :math:`(1 - \\varepsilon) t + \\varepsilon / K` for :math:`K` classes (Szegedy et
        al.'s label smoothing, PyTorch's ``label_smoothing``): the loss is
        :math:`(1 - \\varepsilon) L_i + \\varepsilon \\cdot \\mathrm{mean}_j(-\\log p_{i,j})`.
        Default 0 (Lasagne's loss).

    Returns
    -------
    PyTensor tensor
        The item-wise loss, shape (batch,).

    Raises
    ------
    TypeError
        If `targets` has neither one dimension fewer than `predictions` (integer
        indices) nor as many.

    Notes
    -----
    The loss of choice for multi-class classification with softmax output units. Integer
    targets avoid building the one-hot matrix. If `predictions` is the output of a softmax
    over its last axis, the loss is computed from the softmax input with a log-softmax,
    which stays finite when the softmax saturates; other predictions are used as given.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as T
    >>> import convnet
    >>> from convnet.objectives import categorical_crossentropy
    >>> p, t = T.dmatrix("p"), T.dmatrix("t")
    >>> f = convnet.function([p, t], categorical_crossentropy(p, t))
    >>> f(np.array([[0.5, 0.5], [0.2, 0.8]]), np.array([[1.0, 0.0], [0.0, 1.0]])).round(4)
    array([0.6931, 0.2231])
    """
    caller = "categorical_crossentropy"
    predictions, targets, is_index = _class_targets(predictions, targets, caller=caller)
    z = _softmax_input(predictions)
    if not is_number(label_smoothing):
        raise TypeError(
            f"{caller}: label_smoothing must be a number in [0, 1), received "
            f"{type(label_smoothing).__name__}"
        )
    if not 0.0 <= float(label_smoothing) < 1.0:
        raise ValueError(
            f"{caller}: label_smoothing must be in [0, 1), received {label_smoothing!r}"
        )
    if label_smoothing:
        log_p = log_softmax(z, axis=-1) if z is not None else T.log(predictions)
        if is_index:
            hard = -T.sum(T.switch(_index_mask(predictions, targets), log_p, 0), axis=-1)
        else:
            hard = -T.sum(targets * log_p, axis=-1)
        eps = np.asarray(label_smoothing, dtype=log_p.dtype)
        return (1 - eps) * hard - eps * T.mean(log_p, axis=-1)
    if z is not None:
        log_p = log_softmax(z, axis=-1)
        if is_index:
            return -T.sum(T.switch(_index_mask(predictions, targets), log_p, 0), axis=-1)
        return -T.sum(targets * log_p, axis=-1)
    if is_index:
        picked = T.sum(T.switch(_index_mask(predictions, targets), predictions, 0), axis=-1)
        return -T.log(picked)
    # Entries with a zero target contribute exactly 0, even where the prediction is 0.
    return -T.sum(targets * T.log(T.switch(T.neq(targets, 0), predictions, 1)), axis=-1)


def squared_error(a: TensorLike, b: TensorLike) -> T.TensorVariable:
    """Element-wise squared difference between two tensors.

    .. math:: L = (p - t)^2

    Parameters
    ----------
    a, b : PyTensor tensor
        The tensors to compare (typically predictions and targets); they must broadcast
        against each other. A vector `b` is turned into a column when `a` has shape
        (batch, 1).

    Returns
    -------
    PyTensor tensor
        The element-wise squared difference.

    Notes
    -----
    The loss of choice for many regression problems and auto-encoders with linear output
    units.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as T
    >>> import convnet
    >>> from convnet.objectives import squared_error
    >>> a, b = T.dvector("a"), T.dvector("b")
    >>> convnet.function([a, b], squared_error(a, b))(np.array([1.0, 2.0]), np.array([3.0, 2.5]))
    array([4.  , 0.25])
    """
    a, b = _prepare_pair(a, b, names=("a", "b"), caller="squared_error")
    return T.square(a - b)


def binary_hinge_loss(
    predictions: TensorLike,
    targets: TensorLike,
    delta: float = 1,
    log_odds: bool | None = None,
    binary: bool = True,
) -> T.TensorVariable:
    """Element-wise binary hinge loss between predictions and targets.

    .. math:: L_i = \\max(0, \\delta - t_i p_i)

    Parameters
    ----------
    predictions : PyTensor tensor
        Predictions in (0, 1), such as the sigmoid output of a network, or their log-odds
        (sigmoid inputs), depending on `log_odds`.
    targets : PyTensor tensor
        Targets in {0, 1}, or in {-1, 1} if ``binary=False``.
    delta : scalar, default 1
        The hinge loss margin.
    log_odds : bool or None, default None
        False if `predictions` are sigmoid outputs in (0, 1), True if they are log-odds.
        None assumes True, as Lasagne did, and emits a :class:`FutureWarning` because the
        default may change to False: pass it explicitly.
    binary : bool, default True
        True if `targets` are in {0, 1}, False if they are in {-1, 1}.

    Returns
    -------
    PyTensor tensor
        The element-wise hinge loss.

    Notes
    -----
    An alternative to the binary cross-entropy for binary classification. It is a drop-in
    replacement only with ``log_odds=False``; with log-odds, give it the output of a
    linear layer (which is also the more stable choice).

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as T
    >>> import convnet
    >>> from convnet.objectives import binary_hinge_loss
    >>> z, t = T.dvector("z"), T.dvector("t")
    >>> f = convnet.function([z, t], binary_hinge_loss(z, t, log_odds=True))
    >>> f(np.array([2.0, 0.5, -0.5]), np.array([1.0, 1.0, 1.0]))
    array([0. , 0.5, 1.5])
    """
    caller = "binary_hinge_loss"
    if log_odds is None:
        warnings.warn(
            "binary_hinge_loss: log_odds=None assumes log_odds=True (predictions are "
            "log-odds, i.e. sigmoid inputs); this default may change to False. Pass "
            "log_odds explicitly.",
            FutureWarning,
            stacklevel=2,
        )
        log_odds = True
    predictions, targets = _prepare_pair(predictions, targets, caller=caller)
    if not log_odds:
        predictions = T.log(predictions) - T.log1p(-predictions)
    if binary:
        targets = 2 * targets - 1
    return T.maximum(0, delta - predictions * targets)


def multiclass_hinge_loss(
    predictions: TensorLike, targets: TensorLike, delta: float = 1
) -> T.TensorVariable:
    """Item-wise multi-class hinge loss between predictions and targets.

    .. math:: L_i = \\max_{j \\neq t_i} (0, p_j - p_{t_i} + \\delta)

    Parameters
    ----------
    predictions : PyTensor tensor
        Predictions, such as the softmax output of a network, shape (batch, classes)
        (classes on the last axis).
    targets : PyTensor tensor
        Either a vector of integer class indices, shape (batch,), or one-hot rows with the
        layout of `predictions` (soft targets in [0, 1] do not work: every nonzero entry
        counts as a correct class).
    delta : scalar, default 1
        The hinge loss margin.

    Returns
    -------
    PyTensor tensor
        The item-wise loss, shape (batch,).

    Raises
    ------
    TypeError
        On a rank mismatch between `targets` and `predictions`.

    Notes
    -----
    An alternative to the categorical cross-entropy for multi-class classification.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as T
    >>> import convnet
    >>> from convnet.objectives import multiclass_hinge_loss
    >>> p, t = T.dmatrix("p"), T.ivector("t")
    >>> f = convnet.function([p, t], multiclass_hinge_loss(p, t))
    >>> f(np.array([[0.7, 0.2, 0.1], [0.3, 0.4, 0.3]]), np.array([0, 2], dtype="int32"))
    array([0.5, 1.1])
    """
    predictions, targets, is_index = _class_targets(
        predictions, targets, caller="multiclass_hinge_loss"
    )
    if is_index:
        correct_mask = _index_mask(predictions, targets)
    else:
        correct_mask = T.neq(targets, 0)
    corrects = T.sum(T.switch(correct_mask, predictions, 0), axis=-1)
    rest = T.max(T.switch(correct_mask, -np.inf, predictions), axis=-1)
    return T.maximum(0, rest - corrects + delta)


def huber_loss(predictions: TensorLike, targets: TensorLike, delta: float = 1) -> T.TensorVariable:
    """Element-wise Huber loss between predictions and targets.

    .. math::

        L_i = \\begin{cases}
              \\frac{1}{2} (p_i - t_i)^2 & |p_i - t_i| \\le \\delta \\\\
              \\delta (|p_i - t_i| - \\frac{1}{2} \\delta) & |p_i - t_i| > \\delta
              \\end{cases}

    Parameters
    ----------
    predictions : PyTensor tensor
        Predictions of the network.
    targets : PyTensor tensor
        Targets, broadcastable against `predictions` (a vector is turned into a column
        when `predictions` has shape (batch, 1)).
    delta : scalar, default 1
        Where the loss turns from quadratic to linear.

    Returns
    -------
    PyTensor tensor
        The element-wise Huber loss.

    Notes
    -----
    An alternative to the squared error for regression [#huber_loss-1]_, less sensitive to
    outliers (the "smooth L1" loss of Fast R-CNN [#huber_loss-2]_ when ``delta=1``).

    References
    ----------
    .. [#huber_loss-1] Huber, P. J. (1964): Robust Estimation of a Location Parameter.
           The Annals of Mathematical Statistics 35(1), 73-101.
    .. [#huber_loss-2] Girshick, R. (2015): Fast R-CNN. arXiv:1504.08083.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as T
    >>> import convnet
    >>> from convnet.objectives import huber_loss
    >>> p, t = T.dvector("p"), T.dvector("t")
    >>> f = convnet.function([p, t], huber_loss(p, t))
    >>> f(np.array([0.5, 3.0]), np.array([0.0, 0.0]))
    array([0.125, 2.5  ])
    """
    predictions, targets = _prepare_pair(predictions, targets, caller="huber_loss")
    diff = predictions - targets
    abs_diff = abs(diff)
    quadratic = 0.5 * T.square(diff)
    linear = delta * (abs_diff - 0.5 * delta)
    return T.switch(abs_diff <= delta, quadratic, linear)


def aggregate(
    loss: TensorLike, weights: TensorLike | None = None, mode: str = "mean"
) -> T.TensorVariable:
    """Aggregate an element- or item-wise loss into a scalar loss.

    Parameters
    ----------
    loss : PyTensor tensor
        The loss expression to aggregate.
    weights : PyTensor tensor, optional
        Weights for each element or item, broadcastable to the shape of `loss`. If
        omitted, all elements weigh the same.
    mode : {'mean', 'sum', 'normalized_sum'}
        Aggregate by averaging, by summing, or by summing and dividing by the sum of the
        weights (which requires `weights`).

    Returns
    -------
    PyTensor scalar
        A scalar loss expression, ready to differentiate.

    Raises
    ------
    ValueError
        For an unknown `mode`, for ``'normalized_sum'`` without `weights`, or for
        `weights` whose shape cannot broadcast to the loss's.

    Notes
    -----
    Binary weights (0 and 1) mask out entries. Masked entries must still be valid
    numbers: a NaN times 0 is NaN.

    For batch-wise losses, ``'normalized_sum'`` keeps the loss of a batch at a similar
    magnitude whatever its weights, at the price that an item counts more when it shares
    its batch with low-weighted or masked items.

    With ``'mean'``, the weighted sum is divided by the number of elements of `loss`
    (not by the sum of the weights).

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as T
    >>> import convnet
    >>> from convnet.objectives import aggregate
    >>> loss, w = T.dvector("loss"), T.dvector("w")
    >>> f = convnet.function([loss, w], aggregate(loss, w, mode="normalized_sum"))
    >>> float(f(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0])))
    1.5
    """
    caller = "aggregate"
    check_choice(mode, _AGGREGATE_MODES, caller=caller, argname="mode")
    loss = _as_tensor(loss, caller=caller, argname="loss")
    if weights is not None:
        weights = _as_tensor(weights, caller=caller, argname="weights")
        if weights.ndim > loss.ndim:
            raise ValueError(
                f"{caller}: weights with shape {_shape_str(weights)} have more dimensions than "
                f"the loss with shape {_shape_str(loss)}; they must broadcast to the loss's "
                f"shape"
            )
        _check_broadcastable(loss, weights, ("loss", "weights"), caller=caller)
        loss = loss * weights
    if mode == "mean":
        return loss.mean()
    if mode == "sum":
        return loss.sum()
    if weights is None:
        raise ValueError(f"{caller}: mode='normalized_sum' requires weights, received None")
    return loss.sum() / weights.sum()


# --------------------------------------------------------------------------------------
# accuracies
# --------------------------------------------------------------------------------------


def binary_accuracy(
    predictions: TensorLike, targets: TensorLike, threshold: float = 0.5
) -> T.TensorVariable:
    """Element-wise binary accuracy between predictions and targets.

    .. math:: L_i = \\mathbb{I}(t_i = \\mathbb{I}(p_i \\ge \\alpha))

    Parameters
    ----------
    predictions : PyTensor tensor
        Predictions in [0, 1], such as the sigmoid output of a network, giving the
        probability of the positive class.
    targets : PyTensor tensor
        Targets in {0, 1}.
    threshold : scalar, default 0.5
        Predictions at or above it count as the positive class.

    Returns
    -------
    PyTensor tensor
        The element-wise accuracy in {0, 1}, dtype int8 (as Theano's comparisons were).

    Notes
    -----
    For validation and testing only: the gradient is zero everywhere. For the average
    accuracy, take ``T.mean(acc, dtype=...)`` or :func:`aggregate`.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as T
    >>> import convnet
    >>> from convnet.objectives import binary_accuracy
    >>> p, t = T.dvector("p"), T.dvector("t")
    >>> f = convnet.function([p, t], binary_accuracy(p, t))
    >>> f(np.array([0.2, 0.5, 0.9]), np.array([0.0, 0.0, 1.0]))
    array([1, 0, 1], dtype=int8)
    """
    predictions, targets = _prepare_pair(predictions, targets, caller="binary_accuracy")
    return T.cast(T.eq(T.ge(predictions, threshold), targets), "int8")


def categorical_accuracy(
    predictions: TensorLike, targets: TensorLike, top_k: int = 1
) -> T.TensorVariable:
    """Item-wise categorical accuracy between predictions and targets.

    .. math:: L_i = \\mathbb{I}(t_i = \\operatorname{argmax}_c p_{i,c})

    or, relaxed to the top :math:`k` predictions,

    .. math:: L_i = \\mathbb{I}(t_i \\in \\operatorname{argsort}_c (-p_{i,c})_{:k})

    Parameters
    ----------
    predictions : PyTensor tensor
        Predictions, such as the softmax output of a network, shape (batch, classes)
        (classes on the last axis).
    targets : PyTensor tensor
        Either a vector of integer class indices, shape (batch,), or one-hot rows with the
        layout of `predictions` (their argmax is the target class).
    top_k : int, default 1
        A prediction counts as correct if the target class is among the `top_k` largest
        predictions. With 1, the target class must be the (first) most probable one.

    Returns
    -------
    PyTensor tensor
        The item-wise accuracy in {0, 1}, shape (batch,), dtype int8.

    Raises
    ------
    TypeError
        On a rank mismatch between `targets` and `predictions`.
    ValueError
        If `top_k` is not a positive integer.

    Notes
    -----
    For validation and testing only (it contains an argmax). With ties, ``top_k=1``
    picks the first maximum, as :func:`numpy.argmax` does.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as T
    >>> import convnet
    >>> from convnet.objectives import categorical_accuracy
    >>> p, t = T.dmatrix("p"), T.ivector("t")
    >>> f = convnet.function([p, t], categorical_accuracy(p, t, top_k=2))
    >>> f(np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]]), np.array([1, 2], dtype="int32"))
    array([1, 0], dtype=int8)
    """
    caller = "categorical_accuracy"
    if not is_int(top_k) or top_k < 1:
        raise ValueError(f"{caller}: top_k must be a positive integer, received {top_k!r}")
    predictions = _as_tensor(predictions, caller=caller, argname="predictions")
    targets = _as_tensor(targets, caller=caller, argname="targets")
    if targets.ndim == predictions.ndim:
        targets = T.argmax(targets, axis=-1)
    elif targets.ndim != predictions.ndim - 1:
        _class_targets(predictions, targets, caller=caller)  # raises the rank-mismatch message
    if top_k == 1:
        correct = T.eq(T.argmax(predictions, axis=-1), targets)
    else:
        top = T.argsort(predictions, axis=-1)[..., -int(top_k) :]
        correct = T.any(T.eq(top, T.shape_padright(targets)), axis=-1)
    return T.cast(correct, "int8")
