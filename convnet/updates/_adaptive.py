"""Rules with per-parameter adaptive step sizes: Adagrad, RMSProp, Adadelta and the Adam
family (Adam, Adamax, AMSGrad, AdamW).
"""

from __future__ import annotations

from collections import OrderedDict

import pytensor.tensor as T

from ._base import (
    Hyperparameter,
    LossOrGrads,
    Params,
    _check_numbers,
    _desc,
    _grads,
    _hyper,
    _param_list,
    _param_name,
    _state_like,
    _time_step,
)

__all__ = ["adagrad", "rmsprop", "adadelta", "adam", "adamax", "amsgrad", "adamw"]


def adagrad(
    loss_or_grads: LossOrGrads,
    params: Params,
    learning_rate: Hyperparameter = 1.0,
    epsilon: Hyperparameter = 1e-6,
) -> OrderedDict:
    """Adagrad updates.

    Scales the learning rates by dividing by the square root of the accumulated squared
    gradients [#adagrad-1]_:

    * ``accu := accu + gradient ** 2``
    * ``param := param - learning_rate * gradient / sqrt(accu + epsilon)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps. Defaults to 1.0.
    epsilon : float or symbolic scalar
        Small value added for numerical stability. Defaults to 1e-6.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter and its accumulator (``"<param name>.accu"``)
        to their update expressions.

    Notes
    -----
    With step size :math:`\\eta`, Adagrad's learning rate for feature :math:`i` at step
    :math:`t` is

    .. math:: \\eta_{t,i} = \\frac{\\eta}{\\sqrt{\\sum^t_{t^\\prime} g^2_{t^\\prime,i}
              + \\epsilon}} g_{t,i}

    so the learning rates decrease monotonically. Epsilon is not in the paper's formula
    [#adagrad-2]_; here it sits inside the square root (PyTorch adds it outside).

    References
    ----------
    .. [#adagrad-1] Duchi, J., Hazan, E., Singer, Y. (2011): Adaptive subgradient methods
           for online learning and stochastic optimization. JMLR 12:2121-2159.
    .. [#adagrad-2] Dyer, C.: Notes on AdaGrad.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import adagrad
    >>> w = pytensor.shared(np.array([1.0, -2.0]), name="w")
    >>> _ = convnet.function([], updates=adagrad((w ** 2).sum(), [w], 0.5, epsilon=0.0))()
    >>> np.asarray(w.get_value())  # the first step is learning_rate * sign(gradient)
    array([ 0.5, -1.5])
    """
    params, grads = _grads(
        loss_or_grads, params, caller="adagrad", learning_rate=learning_rate, epsilon=epsilon
    )
    updates = OrderedDict()
    for i, (param, grad) in enumerate(zip(params, grads)):
        lr, eps = _hyper(learning_rate, param.dtype), _hyper(epsilon, param.dtype)
        accu = _state_like(param, _param_name(param, i), "accu")
        accu_new = accu + grad**2
        updates[accu] = accu_new
        updates[param] = param - lr * grad / T.sqrt(accu_new + eps)
    return updates


def rmsprop(
    loss_or_grads: LossOrGrads,
    params: Params,
    learning_rate: Hyperparameter = 1.0,
    rho: Hyperparameter = 0.9,
    epsilon: Hyperparameter = 1e-6,
) -> OrderedDict:
    """RMSProp updates.

    Scales the learning rates by dividing by a moving average of the root mean squared
    (RMS) gradients [#rmsprop-1]_:

    * ``accu := rho * accu + (1 - rho) * gradient ** 2``
    * ``param := param - learning_rate * gradient / sqrt(accu + epsilon)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps. Defaults to 1.0.
    rho : float or symbolic scalar
        Decay factor of the moving average of squared gradients. Defaults to 0.9.
    epsilon : float or symbolic scalar
        Small value added for numerical stability. Defaults to 1e-6.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter and its accumulator (``"<param name>.accu"``)
        to their update expressions.

    Notes
    -----
    `rho` should be in [0, 1): close to 1 the moving average decays slowly, close to 0
    fast. With step size :math:`\\eta` and decay factor :math:`\\rho` the learning rate
    :math:`\\eta_t` is

    .. math::
       r_t &= \\rho r_{t-1} + (1-\\rho) g^2 \\\\
       \\eta_t &= \\frac{\\eta}{\\sqrt{r_t + \\epsilon}}

    (epsilon inside the square root, as in Lasagne; PyTorch's ``RMSprop`` adds it
    outside).

    References
    ----------
    .. [#rmsprop-1] Tieleman, T., Hinton, G. (2012): Neural Networks for Machine
           Learning, Lecture 6.5 - rmsprop. Coursera.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import rmsprop
    >>> w = pytensor.shared(np.array([1.0]), name="w")
    >>> updates = rmsprop((w ** 2).sum(), [w], 0.01, rho=0.75, epsilon=0.0)
    >>> _ = convnet.function([], updates=updates)()
    >>> np.asarray(w.get_value())  # 1 - 0.01 * 2 / sqrt(0.25 * 4)
    array([0.98])
    """
    params, grads = _grads(
        loss_or_grads,
        params,
        caller="rmsprop",
        learning_rate=learning_rate,
        rho=rho,
        epsilon=epsilon,
    )
    updates = OrderedDict()
    for i, (param, grad) in enumerate(zip(params, grads)):
        dtype = param.dtype
        lr, r, eps = _hyper(learning_rate, dtype), _hyper(rho, dtype), _hyper(epsilon, dtype)
        accu = _state_like(param, _param_name(param, i), "accu")
        accu_new = r * accu + (1 - r) * grad**2
        updates[accu] = accu_new
        updates[param] = param - lr * grad / T.sqrt(accu_new + eps)
    return updates


def adadelta(
    loss_or_grads: LossOrGrads,
    params: Params,
    learning_rate: Hyperparameter = 1.0,
    rho: Hyperparameter = 0.95,
    epsilon: Hyperparameter = 1e-6,
) -> OrderedDict:
    """Adadelta updates.

    Scales the learning rates by the ratio of the RMS of recent updates to the RMS of
    recent gradients [#adadelta-1]_:

    * ``accu := rho * accu + (1 - rho) * gradient ** 2``
    * ``update := gradient * sqrt(delta_accu + epsilon) / sqrt(accu + epsilon)``
    * ``param := param - learning_rate * update``
    * ``delta_accu := rho * delta_accu + (1 - rho) * update ** 2``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps. Defaults to 1.0.
    rho : float or symbolic scalar
        Decay factor of the moving averages. Defaults to 0.95.
    epsilon : float or symbolic scalar
        Small value added for numerical stability. Defaults to 1e-6.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter and its accumulators (``"<param name>.accu"``,
        ``"<param name>.delta_accu"``) to their update expressions.

    Notes
    -----
    `rho` should be in [0, 1). rho = 0.95 and epsilon = 1e-6 are the paper's suggestion,
    reported to work on several data sets (MNIST, speech). The paper has no learning
    rate (``learning_rate=1.0``); keeping it at 1 is probably best. Epsilon matters for
    the very first update, so that the numerator is not 0. With step size :math:`\\eta`
    and decay factor :math:`\\rho`:

    .. math::
       r_t &= \\rho r_{t-1} + (1-\\rho) g^2 \\\\
       \\eta_t &= \\eta \\frac{\\sqrt{s_{t-1} + \\epsilon}}{\\sqrt{r_t + \\epsilon}} \\\\
       s_t &= \\rho s_{t-1} + (1-\\rho) (\\eta_t g / \\eta)^2

    References
    ----------
    .. [#adadelta-1] Zeiler, M. D. (2012): ADADELTA: An Adaptive Learning Rate Method.
           arXiv:1212.5701.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import adadelta
    >>> w = pytensor.shared(np.array([1.0]), name="w")
    >>> _ = convnet.function([], updates=adadelta((w ** 2).sum(), [w], rho=0.75, epsilon=0.01))()
    >>> np.asarray(w.get_value()).round(6)  # 1 - 2 * sqrt(0.01) / sqrt(0.25 * 4 + 0.01)
    array([0.800993])
    """
    params, grads = _grads(
        loss_or_grads,
        params,
        caller="adadelta",
        learning_rate=learning_rate,
        rho=rho,
        epsilon=epsilon,
    )
    updates = OrderedDict()
    for i, (param, grad) in enumerate(zip(params, grads)):
        dtype = param.dtype
        lr, r, eps = _hyper(learning_rate, dtype), _hyper(rho, dtype), _hyper(epsilon, dtype)
        label = _param_name(param, i)
        accu = _state_like(param, label, "accu")
        delta_accu = _state_like(param, label, "delta_accu")
        accu_new = r * accu + (1 - r) * grad**2
        updates[accu] = accu_new
        update = grad * T.sqrt(delta_accu + eps) / T.sqrt(accu_new + eps)
        updates[param] = param - lr * update
        updates[delta_accu] = r * delta_accu + (1 - r) * update**2
    return updates


def _adam_family(
    variant: str,
    loss_or_grads: LossOrGrads,
    params: Params,
    learning_rate: Hyperparameter,
    beta1: Hyperparameter,
    beta2: Hyperparameter,
    epsilon: Hyperparameter,
    weight_decay: Hyperparameter = 0.0,
    decay_params: Params | None = None,
) -> OrderedDict:
    """Adam, Adamax, AMSGrad and AdamW share their structure; ``variant`` (the rule's
    name, which labels its messages and its time step) says which."""
    caller = variant
    params, grads = _grads(
        loss_or_grads,
        params,
        caller=caller,
        learning_rate=learning_rate,
        beta1=beta1,
        beta2=beta2,
        epsilon=epsilon,
    )
    if variant == "adamw":
        _check_numbers(caller=caller, weight_decay=weight_decay)
        if decay_params is None:
            decayed = {id(p) for p in params}
        else:
            decay_params = _param_list(decay_params, caller=caller)
            known = {id(p) for p in params}
            for p in decay_params:
                if id(p) not in known:
                    raise ValueError(
                        f"{caller}: decay_params must be a subset of params, received "
                        f"{_desc(p)} which is not in params"
                    )
            decayed = {id(p) for p in decay_params}

    t_prev = _time_step(caller, params)
    t = t_prev + 1
    tdtype = t_prev.dtype
    b1_t, b2_t = _hyper(beta1, tdtype), _hyper(beta2, tdtype)
    # The step size with bias correction folded in (Kingma & Ba, end of section 2).
    if variant == "adamax":
        a_t = _hyper(learning_rate, tdtype) / (1 - b1_t**t)
    else:
        a_t = _hyper(learning_rate, tdtype) * T.sqrt(1 - b2_t**t) / (1 - b1_t**t)

    updates = OrderedDict()
    for i, (param, g) in enumerate(zip(params, grads)):
        dtype = param.dtype
        a = a_t if dtype == tdtype else T.cast(a_t, dtype)
        b1, b2, eps = _hyper(beta1, dtype), _hyper(beta2, dtype), _hyper(epsilon, dtype)
        label = _param_name(param, i)
        m_prev = _state_like(param, label, "m")
        m = b1 * m_prev + (1 - b1) * g
        updates[m_prev] = m
        if variant == "adamax":
            u_prev = _state_like(param, label, "u")
            u = T.maximum(b2 * u_prev, abs(g))
            updates[u_prev] = u
            step = a * m / (u + eps)
        else:
            v_prev = _state_like(param, label, "v")
            v = b2 * v_prev + (1 - b2) * g**2
            updates[v_prev] = v
            if variant == "amsgrad":
                v_hat_prev = _state_like(param, label, "v_hat")
                v_hat = T.maximum(v_hat_prev, v)
                updates[v_hat_prev] = v_hat
                step = a * m / (T.sqrt(v_hat) + eps)
            else:
                step = a * m / (T.sqrt(v) + eps)
        new_param = param - step
        if variant == "adamw" and id(param) in decayed:
            decay = _hyper(learning_rate, dtype) * _hyper(weight_decay, dtype)
            new_param = new_param - decay * param
        updates[param] = new_param
    updates[t_prev] = t
    return updates


def adam(
    loss_or_grads: LossOrGrads,
    params: Params,
    learning_rate: Hyperparameter = 0.001,
    beta1: Hyperparameter = 0.9,
    beta2: Hyperparameter = 0.999,
    epsilon: Hyperparameter = 1e-8,
) -> OrderedDict:
    """Adam updates.

    Adam as in Kingma & Ba [#adam-1]_:

    * ``t := t + 1``
    * ``m := beta1 * m + (1 - beta1) * gradient``
    * ``v := beta2 * v + (1 - beta2) * gradient ** 2``
    * ``param := param - a_t * m / (sqrt(v) + epsilon)``, with
      ``a_t = learning_rate * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        Learning rate. Defaults to 0.001.
    beta1 : float or symbolic scalar
        Exponential decay rate of the first moment estimates. Defaults to 0.9.
    beta2 : float or symbolic scalar
        Exponential decay rate of the second moment estimates. Defaults to 0.999.
    epsilon : float or symbolic scalar
        Constant for numerical stability. Defaults to 1e-8.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter, its moments (``"<param name>.m"``,
        ``"<param name>.v"``) and the time step (``"adam.t"``) to their update
        expressions.

    Notes
    -----
    The bias corrections are folded into the step size, as the paper suggests at the end
    of its section 2, so epsilon is added to the uncorrected :math:`\\sqrt{v}`. PyTorch's
    ``Adam`` adds it to the bias-corrected one; both give the same steps when epsilon is
    negligible. The paper's additional hyperparameter lambda (decaying beta1) is only
    needed for its convergence proof and is left out.

    References
    ----------
    .. [#adam-1] Kingma, D. P., Ba, J. (2014): Adam: A Method for Stochastic
           Optimization. arXiv:1412.6980.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import adam
    >>> w = pytensor.shared(np.array([1.0, -1.0]), name="w")
    >>> step = convnet.function([], updates=adam((w ** 2).sum(), [w], learning_rate=0.1))
    >>> _ = step()
    >>> np.asarray(w.get_value()).round(6)  # the first step is learning_rate * sign(gradient)
    array([ 0.9, -0.9])
    """
    return _adam_family("adam", loss_or_grads, params, learning_rate, beta1, beta2, epsilon)


def adamax(
    loss_or_grads: LossOrGrads,
    params: Params,
    learning_rate: Hyperparameter = 0.002,
    beta1: Hyperparameter = 0.9,
    beta2: Hyperparameter = 0.999,
    epsilon: Hyperparameter = 1e-8,
) -> OrderedDict:
    """Adamax updates: Adam with the infinity norm.

    Adamax as in Kingma & Ba [#adamax-1]_:

    * ``t := t + 1``
    * ``m := beta1 * m + (1 - beta1) * gradient``
    * ``u := max(beta2 * u, abs(gradient))``
    * ``param := param - learning_rate / (1 - beta1 ** t) * m / (u + epsilon)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        Learning rate. Defaults to 0.002.
    beta1 : float or symbolic scalar
        Exponential decay rate of the first moment estimates. Defaults to 0.9.
    beta2 : float or symbolic scalar
        Exponential decay rate of the weighted infinity norm estimates. Defaults to 0.999.
    epsilon : float or symbolic scalar
        Constant for numerical stability. Defaults to 1e-8.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter, its moments (``"<param name>.m"``,
        ``"<param name>.u"``) and the time step (``"adamax.t"``) to their update
        expressions.

    Notes
    -----
    Epsilon is added to ``u`` after the maximum; PyTorch's ``Adamax`` adds it to the
    gradient inside the maximum.

    References
    ----------
    .. [#adamax-1] Kingma, D. P., Ba, J. (2014): Adam: A Method for Stochastic
           Optimization. arXiv:1412.6980 (section 7.1).

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import adamax
    >>> w = pytensor.shared(np.array([1.0, -1.0]), name="w")
    >>> _ = convnet.function([], updates=adamax((w ** 2).sum(), [w], learning_rate=0.1))()
    >>> np.asarray(w.get_value()).round(6)
    array([ 0.9, -0.9])
    """
    return _adam_family("adamax", loss_or_grads, params, learning_rate, beta1, beta2, epsilon)


def amsgrad(
    loss_or_grads: LossOrGrads,
    params: Params,
    learning_rate: Hyperparameter = 0.001,
    beta1: Hyperparameter = 0.9,
    beta2: Hyperparameter = 0.999,
    epsilon: Hyperparameter = 1e-8,
) -> OrderedDict:
    """AMSGrad updates: Adam with a non-decreasing second moment.

    AMSGrad as in Reddi et al. [#amsgrad-1]_:

    * ``t := t + 1``
    * ``m := beta1 * m + (1 - beta1) * gradient``
    * ``v := beta2 * v + (1 - beta2) * gradient ** 2``
    * ``v_hat := max(v_hat, v)``
    * ``param := param - a_t * m / (sqrt(v_hat) + epsilon)``, with
      ``a_t = learning_rate * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        Learning rate. Defaults to 0.001.
    beta1 : float or symbolic scalar
        Exponential decay rate of the first moment estimates. Defaults to 0.9.
    beta2 : float or symbolic scalar
        Exponential decay rate of the second moment estimates. Defaults to 0.999.
    epsilon : float or symbolic scalar
        Constant for numerical stability. Defaults to 1e-8.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter, its moments (``"<param name>.m"``,
        ``"<param name>.v"``, ``"<param name>.v_hat"``) and the time step
        (``"amsgrad.t"``) to their update expressions.

    Notes
    -----
    As in Lasagne (and PyTorch's ``Adam(amsgrad=True)``), the maximum is taken over the
    uncorrected ``v`` and the bias correction of ``beta2`` is kept in the step size.

    References
    ----------
    .. [#amsgrad-1] Reddi, S. J., Kale, S., Kumar, S. (2018): On the Convergence of Adam
           and Beyond. ICLR. https://openreview.net/forum?id=ryQu7f-RZ

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import amsgrad
    >>> w = pytensor.shared(np.array([1.0, -1.0]), name="w")
    >>> _ = convnet.function([], updates=amsgrad((w ** 2).sum(), [w], learning_rate=0.1))()
    >>> np.asarray(w.get_value()).round(6)
    array([ 0.9, -0.9])
    """
    return _adam_family("amsgrad", loss_or_grads, params, learning_rate, beta1, beta2, epsilon)


def adamw(
    loss_or_grads: LossOrGrads,
    params: Params,
    learning_rate: Hyperparameter = 0.001,
    beta1: Hyperparameter = 0.9,
    beta2: Hyperparameter = 0.999,
    epsilon: Hyperparameter = 1e-8,
    weight_decay: Hyperparameter = 0.01,
    decay_params: Params | None = None,
) -> OrderedDict:
    """AdamW updates: Adam with decoupled weight decay.

    AdamW as in Loshchilov & Hutter [#adamw-1]_:

    * ``t := t + 1``
    * ``m := beta1 * m + (1 - beta1) * gradient``
    * ``v := beta2 * v + (1 - beta2) * gradient ** 2``
    * ``param := param - a_t * m / (sqrt(v) + epsilon)
      - learning_rate * weight_decay * param``, with
      ``a_t = learning_rate * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)``

    Not part of Lasagne 0.2; its arguments extend :func:`adam`'s.

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions. The weight decay is
        not part of the loss: do not add an L2 penalty for it.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        Learning rate. Defaults to 0.001.
    beta1 : float or symbolic scalar
        Exponential decay rate of the first moment estimates. Defaults to 0.9.
    beta2 : float or symbolic scalar
        Exponential decay rate of the second moment estimates. Defaults to 0.999.
    epsilon : float or symbolic scalar
        Constant for numerical stability. Defaults to 1e-8.
    weight_decay : float or symbolic scalar
        Decay rate :math:`\\lambda`: each step shrinks a parameter by the fraction
        ``learning_rate * weight_decay``. Defaults to 0.01 (as PyTorch's ``AdamW``).
    decay_params : list of shared variables, optional
        The parameters to decay, a subset of `params`; by default all of them. Biases
        and normalisation scales are usually left out, e.g.
        ``decay_params=convnet.layers.get_all_params(net, regularizable=True)``.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter, its moments (``"<param name>.m"``,
        ``"<param name>.v"``) and the time step (``"adamw.t"``) to their update
        expressions.

    Notes
    -----
    Adding an L2 penalty to the loss is not the same as weight decay for Adam: the
    penalty's gradient gets rescaled by the adaptive step sizes, so parameters with large
    gradients are regularised less. Decoupling the decay from the gradient restores
    weight decay's effect [#adamw-1]_. As in PyTorch, the decay is multiplied by the learning
    rate, so a learning-rate schedule (a shared `learning_rate`) also schedules the
    decay, the role of the paper's multiplier :math:`\\eta_t`. The decay uses the
    parameter's value before the step.

    References
    ----------
    .. [#adamw-1] Loshchilov, I., Hutter, F. (2019): Decoupled Weight Decay
           Regularization. ICLR. arXiv:1711.05101.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import adamw
    >>> w = pytensor.shared(np.array([1.0, -1.0]), name="w")
    >>> updates = adamw((w ** 2).sum(), [w], learning_rate=0.1, weight_decay=0.5)
    >>> _ = convnet.function([], updates=updates)()
    >>> np.asarray(w.get_value()).round(6)  # Adam's step 0.1, then the decay 0.1 * 0.5 * 1
    array([ 0.85, -0.85])
    """
    return _adam_family(
        "adamw",
        loss_or_grads,
        params,
        learning_rate,
        beta1,
        beta2,
        epsilon,
        weight_decay=weight_decay,
        decay_params=decay_params,
    )
