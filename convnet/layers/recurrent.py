"""Recurrent layers (Lasagne 0.2's): :class:`CustomRecurrentLayer`, :class:`RecurrentLayer`,
:class:`LSTMLayer` and :class:`GRULayer`, with :class:`Gate` holding one gate's parameters.

Who owns what:

* ``_RecurrentBase`` owns what all four share: the incoming layers (the sequence, an optional
  mask, initial states given as layers), the options (``backwards``, ``gradient_steps``,
  ``grad_clipping``, ``unroll_scan``, ``precompute_input``, ``only_return_final``,
  ``learn_init``) and their checks, and the loop over time (:meth:`_RecurrentBase._recur`):
  masking, direction, truncated backpropagation, ``pytensor.scan`` or an unrolled loop, and the
  layout of the output;
* each concrete layer owns its parameters and its step function.

The four layers are one module because they are one loop over time with four step
functions: the step functions are read against ``_RecurrentBase._recur``, which calls them,
and ``_GatedBase`` (the gates of LSTM and GRU) against both.

Inputs are ``(batch, time, features...)``; outputs ``(batch, time, units...)``, or
``(batch, units...)`` with ``only_return_final=True``. The loop runs over time with
``pytensor.scan`` (one loop in the compiled graph; under the JAX backend one ``lax.scan``).

Examples
--------
A recurrent layer between feed-forward layers: a :class:`~convnet.layers.ReshapeLayer` folds
time into the batch for a :class:`~convnet.layers.DenseLayer` applied at every step.

>>> from convnet.layers import InputLayer, LSTMLayer, ReshapeLayer, DenseLayer
>>> l_in = InputLayer((None, 20, 8))
>>> l_lstm = LSTMLayer(l_in, num_units=16)
>>> l_lstm.output_shape
(None, 20, 16)
>>> l_dense = DenseLayer(ReshapeLayer(l_lstm, (-1, 16)), num_units=3)
>>> l_dense.output_shape
(None, 3)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as T
from pytensor.gradient import disconnected_grad, grad_clip
from pytensor.graph import Variable

from .. import init, nonlinearities
from .._checks import INT_TYPES, check_int, label
from .._types import Incoming, Nonlinearity, ParamSpec
from ..ops import concrete_shape
from ..utils import inspect_kwargs, unroll_scan
from . import helper
from .base import Layer, MergeLayer
from .dense import DenseLayer
from .input import InputLayer

__all__ = ["CustomRecurrentLayer", "RecurrentLayer", "Gate", "LSTMLayer", "GRULayer"]


def _compatible(a: tuple, b: tuple) -> bool:
    """Whether two shapes agree wherever both sizes are known."""
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _reverse_time(x: Variable) -> Variable:
    """``x[::-1]``, as a gather along axis 0: under JAX the gradient of a reversing slice,
    passed back through a scan, crashes XLA's algebraic simplifier (jax 0.10.2, "Invalid
    binary instruction opcode map"); a gather's gradient is a scatter-add, which does not."""
    x = concrete_shape(x)
    return x[T.arange(x.shape[0])[::-1]]


def _child_output(layer: Layer, input: Variable, kwargs: dict) -> Variable:
    """``get_output`` of a connection network, without its warning about keywords that only
    layers outside it use (the outer ``get_output`` checks the keywords once)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="get_output\\(\\) was called with unused kwargs")
        return helper.get_output(layer, input, **kwargs)


def _accepted_kwargs(network: Layer) -> list:
    """The ``get_output`` keywords that the layers of ``network`` use."""
    accepted = set()
    for layer in helper.get_all_layers(network):
        try:
            accepted |= set(inspect_kwargs(layer.get_output_for))
        except (TypeError, ValueError):  # uninspectable callables
            pass
        accepted |= set(getattr(layer, "get_output_kwargs", []))
    return sorted(accepted)


class _RecurrentBase(MergeLayer):
    """What all recurrent layers share: incomings, options, and the loop over time.

    Parameters
    ----------
    incoming : Layer or tuple
        The sequence, ``(batch, time, features...)``.
    init_specs : dict
        Maps the name of each initial state (``"hid_init"``, ``"cell_init"``) to its
        specification; the ones given as a :class:`Layer` become incomings, and
        ``self.<name>_incoming_index`` says where (-1 when not a layer).
    mask_input : Layer or None
        The mask, ``(batch, time)``; ``self.mask_incoming_index`` says where (-1 if None).
    backwards, learn_init, gradient_steps, grad_clipping, unroll_scan, precompute_input, \
only_return_final
        See the concrete layers.
    **kwargs
        Passed to :class:`MergeLayer` (``name``).
    """

    def __init__(
        self,
        incoming: Incoming,
        init_specs: dict,
        mask_input: Layer | None,
        backwards: bool,
        learn_init: bool,
        gradient_steps: int,
        grad_clipping: float,
        unroll_scan: bool,
        precompute_input: bool,
        only_return_final: bool,
        **kwargs: Any,
    ):
        incomings = [incoming]
        self.mask_incoming_index = -1
        if mask_input is not None:
            incomings.append(mask_input)
            self.mask_incoming_index = len(incomings) - 1
        for init_name, spec in init_specs.items():
            setattr(self, f"{init_name}_incoming_index", -1)
            if isinstance(spec, Layer):
                incomings.append(spec)
                setattr(self, f"{init_name}_incoming_index", len(incomings) - 1)
        super().__init__(incomings, **kwargs)
        caller = label(self)
        input_shape = self.input_shapes[0]
        if len(input_shape) < 3:
            raise ValueError(
                f"{caller}: expected an input of at least 3 dimensions (batch, time, "
                f"features...), received shape {input_shape}; add a ReshapeLayer or a "
                f"DimshuffleLayer before it"
            )
        if mask_input is not None:
            mask_shape = self.input_shapes[self.mask_incoming_index]
            if not _compatible(mask_shape, input_shape[:2]):
                raise ValueError(
                    f"{caller}: mask_input: expected a mask of shape (batch, time) matching the "
                    f"input shape {input_shape}, received shape {mask_shape}"
                )
        if (
            not isinstance(gradient_steps, INT_TYPES)
            or isinstance(gradient_steps, bool)
            or (gradient_steps != -1 and gradient_steps <= 0)
        ):
            raise ValueError(
                f"{caller}: gradient_steps: expected -1 (backpropagate through the whole "
                f"sequence) or a positive int, received {gradient_steps!r}"
            )
        if unroll_scan and gradient_steps != -1:
            raise ValueError(
                f"{caller}: gradient_steps: expected -1 when unroll_scan=True (an unrolled "
                f"loop always backpropagates through the whole sequence), received "
                f"{gradient_steps}"
            )
        if unroll_scan and input_shape[1] is None:
            raise ValueError(
                f"{caller}: unroll_scan=True needs a known sequence length, received input "
                f"shape {input_shape} (axis 1 is None); give the length in the InputLayer's "
                f"shape or set unroll_scan=False"
            )
        if isinstance(grad_clipping, bool) or not isinstance(grad_clipping, (int, float)):
            if not (isinstance(grad_clipping, np.number) and np.ndim(grad_clipping) == 0):
                raise TypeError(
                    f"{caller}: grad_clipping: expected a number (0 for no clipping), received "
                    f"{type(grad_clipping).__name__} {grad_clipping!r}"
                )
        if grad_clipping < 0:
            raise ValueError(
                f"{caller}: grad_clipping: expected a number >= 0 (0 for no clipping), "
                f"received {grad_clipping!r}"
            )
        self.backwards = bool(backwards)
        self.learn_init = bool(learn_init)
        self.gradient_steps = int(gradient_steps)
        self.grad_clipping = grad_clipping
        self.unroll_scan = bool(unroll_scan)
        self.precompute_input = bool(precompute_input)
        self.only_return_final = bool(only_return_final)

    # -- initial states -------------------------------------------------------------------

    def _add_init(self, init_name: str, spec: ParamSpec | Layer, shape: tuple) -> Variable | Layer:
        """Store an initial state: a layer (its output checked against ``(rows,) +
        shape[1:]``; the rows, the batch, are only known to agree at run time, as Lasagne's
        tests declare a batch of 1 and feed more) or a parameter of ``shape`` (leading size
        1), trainable if ``learn_init``."""
        if isinstance(spec, Layer):
            index = getattr(self, f"{init_name}_incoming_index")
            given = self.input_shapes[index]
            expected = (None,) + tuple(shape[1:])
            if not _compatible(given, expected):
                raise ValueError(
                    f"{label(self)}: {init_name}: expected a layer with output shape "
                    f"{expected} (batch, units...), received output shape {given}"
                )
            return spec
        return self.add_param(
            spec, shape, name=init_name, trainable=self.learn_init, regularizable=False
        )

    def _initial_state(self, init_name: str, inputs: list, num_batch: Variable) -> Variable:
        """The initial state ``(batch, units...)``: the incoming layer's output, or the
        parameter repeated over the batch."""
        index = getattr(self, f"{init_name}_incoming_index")
        if index > 0:
            return inputs[index]
        param = getattr(self, init_name)
        rest = [param.shape[i] for i in range(1, param.ndim)]
        return T.broadcast_to(param, (num_batch, *rest))

    # -- shapes ---------------------------------------------------------------------------

    def _units_shape(self) -> tuple:
        """The shape of the state at one step, without the batch axis."""
        return (self.num_units,)

    def get_output_shape_for(self, input_shapes):
        input_shape = input_shapes[0]
        if self.only_return_final:
            return (input_shape[0],) + self._units_shape()
        return (input_shape[0], input_shape[1]) + self._units_shape()

    # -- the loop over time ---------------------------------------------------------------

    def _time_major(self, input: Variable, flatten: bool) -> Variable:
        """``(batch, time, ...)`` -> ``(time, batch, ...)``, trailing axes flattened if
        ``flatten``, with shapes read off the value (JAX-safe)."""
        input = concrete_shape(input)
        if flatten and input.ndim > 3:
            features = int(np.prod(self.input_shapes[0][2:]))
            input = concrete_shape(input.reshape((input.shape[0], input.shape[1], features)))
        return input.dimshuffle(1, 0, *range(2, input.ndim))

    def _clip(self, x: Variable) -> Variable:
        """``x`` with its gradient clipped to ``[-grad_clipping, grad_clipping]`` (if set)."""
        if not self.grad_clipping:
            return x
        bound = np.asarray(self.grad_clipping, dtype=x.dtype)
        return grad_clip(x, -bound, bound)

    def _recur(
        self,
        step: Callable[..., Variable | list],
        sequences: list,
        states: list,
        mask: Variable | None,
        non_sequences: list = (),
    ) -> list:
        """Run ``step`` over time; return each state stacked over time, ``(time, batch, ...)``,
        in the order the steps ran (reversed time when ``backwards``).

        ``step(*sequence_slices, *previous_states, *non_sequences)`` returns the new states.
        Where the mask is 0 a state keeps its previous value. With ``gradient_steps = k``,
        the states of all but the last ``k`` steps are computed without gradient, so
        gradients flow back through the last ``k`` steps only (Theano's
        ``truncate_gradient``, which PyTensor's JAX backend cannot run, done in one loop).
        """
        dtype = pytensor.scalar.upcast(*[s.dtype for s in states])
        states = [T.cast(s, dtype) if s.dtype != dtype else s for s in states]
        sequences = list(sequences)
        n_seq = len(sequences)
        if mask is not None:
            sequences.append(mask.dimshuffle(1, 0))
        if self.backwards:
            sequences = [_reverse_time(s) for s in sequences]
        truncate = self.gradient_steps != -1 and not self.unroll_scan
        if truncate:
            # The step's index as a sequence, compared inside the loop with the first step
            # whose gradient is kept.
            n_steps = sequences[0].shape[0]
            sequences.append(T.arange(n_steps))
            non_sequences = [*non_sequences, n_steps - self.gradient_steps]
        n_states = len(states)

        def masked_step(*args):
            slices = list(args[:n_seq])
            previous = args[len(sequences) : len(sequences) + n_states]
            rest = args[len(sequences) + n_states :]
            flags = list(args[n_seq : len(sequences)])
            new = step(*slices, *previous, *rest[: len(rest) - truncate])
            if not isinstance(new, (list, tuple)):
                new = [new]
            new = [T.cast(n, p.dtype) if n.dtype != p.dtype else n for n, p in zip(new, previous)]
            if mask is not None:
                m = flags.pop(0)
                new = [
                    T.switch(m.dimshuffle(0, *["x"] * (p.ndim - 1)), n, p)
                    for n, p in zip(new, previous)
                ]
            if truncate:
                keep = T.ge(flags.pop(0), rest[-1])
                new = [T.switch(keep, n, disconnected_grad(n)) for n in new]
            return new

        if self.unroll_scan:
            return unroll_scan(
                masked_step, sequences, states, list(non_sequences), self.input_shapes[0][1]
            )
        return pytensor.scan(
            masked_step,
            sequences=sequences,
            outputs_info=states,
            non_sequences=list(non_sequences),
            return_list=True,
            return_updates=False,
        )

    def _output(self, hid_out: Variable) -> Variable:
        """The layer's output from the stacked states ``(time, batch, units...)``."""
        if self.only_return_final:
            return hid_out[-1]
        if self.backwards:
            hid_out = _reverse_time(hid_out)
        return hid_out.dimshuffle(1, 0, *range(2, hid_out.ndim))

    def _split_inputs(self, inputs: list) -> tuple:
        mask = inputs[self.mask_incoming_index] if self.mask_incoming_index > 0 else None
        return inputs[0], mask


class CustomRecurrentLayer(_RecurrentBase):
    """A recurrent layer with its connections given as layers:
    :math:`h_t = \\sigma(f_i(x_t) + f_h(h_{t-1}))`.

    The input-to-hidden connection :math:`f_i` and the hidden-to-hidden connection
    :math:`f_h` are networks of layers, each starting at its own :class:`InputLayer`; for
    example dense layers (:class:`RecurrentLayer`) or convolutions (a convolutional RNN).

    Parameters
    ----------
    incoming : Layer or tuple
        The sequence, shape ``(batch, time, *features)``.
    input_to_hidden : Layer
        The output layer of :math:`f_i`, a network whose only :class:`InputLayer` has shape
        ``(rows, *features)``: ``rows`` is None or ``batch * time`` if ``precompute_input``
        (it then sees all steps at once), None or ``batch`` otherwise.
    hidden_to_hidden : Layer
        The output layer of :math:`f_h`, a network whose only :class:`InputLayer` has the
        shape of the state, ``(batch, *units)``; its output shape is the state's too, and
        ``input_to_hidden``'s output shape must agree with it after the first axis.
    nonlinearity : callable or None
        :math:`\\sigma` (default :func:`~convnet.nonlinearities.rectify`); None for none.
    hid_init : initializer, numpy array, PyTensor expression or Layer
        The initial state :math:`h_0`: a parameter of shape ``(1, *units)`` (default 0),
        or a layer with output ``(batch, *units)``.
    backwards : bool
        Run from the last step to the first; the output stays in input order.
    learn_init : bool
        Make the ``hid_init`` parameter trainable (default False).
    gradient_steps : int
        Backpropagate through the last ``gradient_steps`` steps only; -1 (default) for the
        whole sequence (truncated backpropagation through time, as Theano's
        ``truncate_gradient``: earlier steps get no gradient).
    grad_clipping : float
        If nonzero, clip the gradient flowing back through each step's pre-activation to
        ``[-grad_clipping, grad_clipping]`` (Graves, 2013). The forward pass is unchanged.
    unroll_scan : bool
        Unroll the loop into a graph of ``time`` steps instead of ``scan`` (needs a known
        sequence length and ``gradient_steps=-1``).
    precompute_input : bool
        Apply :math:`f_i` to all steps at once before the loop (default True) instead of
        once per step; same result, more memory, usually faster.
    mask_input : Layer or None
        A mask of shape ``(batch, time)``: where it is 0 the state is carried over
        unchanged (steps after the end of a shorter sequence). Default None (no mask).
    only_return_final : bool
        Return only the last state, ``(batch, *units)``.
    **kwargs
        Passed to :class:`~convnet.layers.MergeLayer` (``name``).

    Attributes
    ----------
    hid_init : pytensor shared variable or Layer
        ``(1, *units)``, tags ``trainable`` if ``learn_init``, not ``regularizable``.
    input_to_hidden, hidden_to_hidden : Layer
        The connections; their parameters are part of this layer's (:meth:`get_params`).

    Notes
    -----
    Input ``(batch, time, *features)``; output ``(batch, time, *units)``, or
    ``(batch, *units)`` with ``only_return_final``. ``*units`` is
    ``hidden_to_hidden.output_shape[1:]``. The mask, ``hid_init`` given as a layer, and
    ``input`` are this layer's incomings, in that order (``mask_incoming_index``,
    ``hid_init_incoming_index``; -1 when absent).

    References
    ----------
    Graves, Alex (2013): Generating sequences with recurrent neural networks.
    arXiv:1308.0850.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import (InputLayer, DenseLayer, CustomRecurrentLayer,
    ...                             get_output)
    >>> l_in = InputLayer((2, 3, 4))
    >>> l_in_hid = DenseLayer(InputLayer((None, 4)), 5, nonlinearity=None)
    >>> l_hid_hid = DenseLayer(InputLayer((None, 5)), 5, nonlinearity=None, b=None)
    >>> l_rec = CustomRecurrentLayer(l_in, l_in_hid, l_hid_hid, name="rnn")
    >>> l_rec.output_shape
    (2, 3, 5)
    >>> out = get_output(l_rec).eval({l_in.input_var: np.ones((2, 3, 4))}, mode="FAST_COMPILE")
    >>> out.shape
    (2, 3, 5)
    """

    def __init__(
        self,
        incoming: Incoming,
        input_to_hidden: Layer,
        hidden_to_hidden: Layer,
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        hid_init: ParamSpec | Layer = init.Constant(0.0),
        backwards: bool = False,
        learn_init: bool = False,
        gradient_steps: int = -1,
        grad_clipping: float = 0,
        unroll_scan: bool = False,
        precompute_input: bool = True,
        mask_input: Layer | None = None,
        only_return_final: bool = False,
        **kwargs: Any,
    ):
        super().__init__(
            incoming,
            init_specs={"hid_init": hid_init},
            mask_input=mask_input,
            backwards=backwards,
            learn_init=learn_init,
            gradient_steps=gradient_steps,
            grad_clipping=grad_clipping,
            unroll_scan=unroll_scan,
            precompute_input=precompute_input,
            only_return_final=only_return_final,
            **kwargs,
        )
        caller = label(self)
        for arg, layer in (
            ("input_to_hidden", input_to_hidden),
            ("hidden_to_hidden", hidden_to_hidden),
        ):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"{caller}: {arg}: expected a Layer, received {type(layer).__name__} {layer!r}"
                )
            n_inputs = sum(isinstance(x, InputLayer) for x in helper.get_all_layers(layer))
            if n_inputs != 1:
                raise ValueError(
                    f"{caller}: {arg}: expected a network with exactly one InputLayer, "
                    f"received one with {n_inputs}"
                )
        self.input_to_hidden = input_to_hidden
        self.hidden_to_hidden = hidden_to_hidden
        # get_output passes its keywords on to the connections: accept theirs.
        self.get_output_kwargs = sorted(
            set(_accepted_kwargs(input_to_hidden)) | set(_accepted_kwargs(hidden_to_hidden))
        )
        input_shape = self.input_shapes[0]
        in_hid = tuple(input_to_hidden.output_shape)
        hid_hid = tuple(hidden_to_hidden.output_shape)
        (hid_in_layer,) = [
            x for x in helper.get_all_layers(hidden_to_hidden) if isinstance(x, InputLayer)
        ]
        if self.precompute_input and None not in (in_hid[0], input_shape[0], input_shape[1]):
            if in_hid[0] != input_shape[0] * input_shape[1]:
                raise ValueError(
                    f"{caller}: input_to_hidden: with precompute_input=True its output must have "
                    f"batch * time = {input_shape[0] * input_shape[1]} rows (or None), "
                    f"received output shape {in_hid}"
                )
        if not self.precompute_input and None not in (in_hid[0], hid_hid[0]):
            if in_hid[0] != hid_hid[0]:
                raise ValueError(
                    f"{caller}: input_to_hidden: with precompute_input=False its output must "
                    f"have as many rows as hidden_to_hidden's ({hid_hid[0]}), received output "
                    f"shape {in_hid}"
                )
        if not _compatible(in_hid[1:], hid_hid[1:]):
            raise ValueError(
                f"{caller}: input_to_hidden and hidden_to_hidden: expected output shapes equal "
                f"after the first axis, received {in_hid} and {hid_hid}"
            )
        if not _compatible(in_hid[1:], tuple(hid_in_layer.output_shape)[1:]):
            raise ValueError(
                f"{caller}: hidden_to_hidden: expected its InputLayer to have the shape of the "
                f"state {(None,) + in_hid[1:]}, received {hid_in_layer.output_shape}"
            )
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity
        self.hid_init = self._add_init("hid_init", hid_init, (1,) + hid_hid[1:])

    def _units_shape(self) -> tuple:
        return tuple(self.hidden_to_hidden.output_shape[1:])

    def get_params(self, unwrap_shared: bool = True, **tags: bool) -> list:
        """This layer's parameters followed by those of its two connections."""
        params = super().get_params(unwrap_shared=unwrap_shared, **tags)
        for layer in (self.input_to_hidden, self.hidden_to_hidden):
            params += helper.get_all_params(layer, unwrap_shared=unwrap_shared, **tags)
        return params

    def get_output_for(self, inputs, **kwargs):
        """The states over time (see the class docstring for shapes).

        Parameters
        ----------
        inputs : list of pytensor tensors
            The sequence ``(batch, time, *features)``, then the mask ``(batch, time)`` and
            ``hid_init`` ``(batch, *units)`` where they are layers.
        **kwargs
            Passed to the connections' layers (``deterministic``, ...).
        """
        input, mask = self._split_inputs(inputs)
        input = self._time_major(input, flatten=False)
        seq_len, num_batch = input.shape[0], input.shape[1]
        if self.precompute_input:
            trailing = [input.shape[i] for i in range(2, input.ndim)]
            flat = concrete_shape(input.reshape((-1, *trailing)))
            pre = _child_output(self.input_to_hidden, flat, kwargs)
            rest = [pre.shape[i] for i in range(1, pre.ndim)]
            input = concrete_shape(pre.reshape((seq_len, num_batch, *rest)))

        def step(input_n, hid_previous):
            hid_pre = _child_output(self.hidden_to_hidden, hid_previous, kwargs)
            if self.precompute_input:
                hid_pre = hid_pre + input_n
            else:
                hid_pre = hid_pre + _child_output(self.input_to_hidden, input_n, kwargs)
            return self.nonlinearity(self._clip(hid_pre))

        hid_init = self._initial_state("hid_init", inputs, num_batch)
        (hid_out,) = self._recur(step, [input], [hid_init], mask)
        return self._output(hid_out)


class RecurrentLayer(CustomRecurrentLayer):
    """A dense ("vanilla") recurrent layer: :math:`h_t = \\sigma(x_t W_x + h_{t-1} W_h + b)`.

    A :class:`CustomRecurrentLayer` whose connections are two
    :class:`~convnet.layers.DenseLayer`, named ``"<name>.input_to_hidden"`` and
    ``"<name>.hidden_to_hidden"``.

    Parameters
    ----------
    incoming : Layer or tuple
        The sequence, ``(batch, time, *features)``; the features are flattened.
    num_units : int
        The number of hidden units.
    W_in_to_hid : initializer, numpy array or PyTensor expression
        :math:`W_x`, shape ``(num_inputs, num_units)`` (default ``Uniform()``).
    W_hid_to_hid : initializer, numpy array or PyTensor expression
        :math:`W_h`, shape ``(num_units, num_units)`` (default ``Uniform()``).
    b : initializer, numpy array, PyTensor expression or None
        :math:`b`, shape ``(num_units,)`` (default 0); None for no bias.
    nonlinearity : callable or None
        :math:`\\sigma` (default :func:`~convnet.nonlinearities.rectify`).
    hid_init, backwards, learn_init, gradient_steps, grad_clipping, unroll_scan, \
precompute_input, mask_input, only_return_final
        As in :class:`CustomRecurrentLayer` (``hid_init`` has shape ``(1, num_units)``).
    **kwargs
        ``name``.

    Attributes
    ----------
    W_in_to_hid : pytensor shared variable
        ``(num_inputs, num_units)``, tags ``trainable, regularizable``.
    W_hid_to_hid : pytensor shared variable
        ``(num_units, num_units)``, tags ``trainable, regularizable``.
    b : pytensor shared variable or None
        ``(num_units,)``, tag ``trainable``.

    Notes
    -----
    Input ``(batch, time, *features)``, ``num_inputs = prod(features)``; output
    ``(batch, time, num_units)``, or ``(batch, num_units)`` with ``only_return_final``.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, RecurrentLayer, get_output
    >>> l_in = InputLayer((None, None, 3))
    >>> l_rnn = RecurrentLayer(l_in, num_units=2, W_in_to_hid=np.ones((3, 2)),
    ...                        W_hid_to_hid=np.eye(2), nonlinearity=None, name="rnn")
    >>> l_rnn.W_in_to_hid.name
    'rnn.input_to_hidden.W'
    >>> x = np.ones((1, 3, 3))  # a running sum of 3 per step
    >>> get_output(l_rnn).eval({l_in.input_var: x}, mode="FAST_COMPILE")
    array([[[3., 3.],
            [6., 6.],
            [9., 9.]]])
    """

    def __init__(
        self,
        incoming: Incoming,
        num_units: int,
        W_in_to_hid: ParamSpec = init.Uniform(),
        W_hid_to_hid: ParamSpec = init.Uniform(),
        b: ParamSpec | None = init.Constant(0.0),
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        hid_init: ParamSpec | Layer = init.Constant(0.0),
        backwards: bool = False,
        learn_init: bool = False,
        gradient_steps: int = -1,
        grad_clipping: float = 0,
        unroll_scan: bool = False,
        precompute_input: bool = True,
        mask_input: Layer | None = None,
        only_return_final: bool = False,
        **kwargs: Any,
    ):
        input_shape = incoming if isinstance(incoming, tuple) else incoming.output_shape
        name = kwargs.get("name")
        caller = f"RecurrentLayer {name!r}" if name is not None else "RecurrentLayer"
        num_units = check_int(num_units, caller=caller, argname="num_units", minimum=1)
        if len(input_shape) < 3 or any(s is None for s in input_shape[2:]):
            raise ValueError(
                f"{caller}: expected an input (batch, time, features...) with known feature "
                f"sizes, received shape {input_shape}"
            )
        basename = f"{name}." if name is not None else ""
        in_to_hid = DenseLayer(
            InputLayer((None,) + tuple(input_shape[2:])),
            num_units,
            W=W_in_to_hid,
            b=b,
            nonlinearity=None,
            name=basename + "input_to_hidden",
        )
        hid_to_hid = DenseLayer(
            InputLayer((None, num_units)),
            num_units,
            W=W_hid_to_hid,
            b=None,
            nonlinearity=None,
            name=basename + "hidden_to_hidden",
        )
        self.num_units = num_units
        self.W_in_to_hid = in_to_hid.W
        self.W_hid_to_hid = hid_to_hid.W
        self.b = in_to_hid.b
        super().__init__(
            incoming,
            in_to_hid,
            hid_to_hid,
            nonlinearity=nonlinearity,
            hid_init=hid_init,
            backwards=backwards,
            learn_init=learn_init,
            gradient_steps=gradient_steps,
            grad_clipping=grad_clipping,
            unroll_scan=unroll_scan,
            precompute_input=precompute_input,
            mask_input=mask_input,
            only_return_final=only_return_final,
            **kwargs,
        )


class Gate:
    """The parameters of one gate of an :class:`LSTMLayer` or :class:`GRULayer`.

    A gate computes :math:`\\sigma(x_t W_{in} + h_{t-1} W_{hid} + w_{cell} \\odot c + b)`;
    the cell term only in an LSTM with peepholes.

    Parameters
    ----------
    W_in : initializer, numpy array or PyTensor expression
        Input-to-gate weights, ``(num_inputs, num_units)`` (default ``Normal(0.1)``).
    W_hid : initializer, numpy array or PyTensor expression
        Hidden-to-gate weights, ``(num_units, num_units)`` (default ``Normal(0.1)``).
    W_cell : initializer, numpy array, PyTensor expression or None
        Cell-to-gate (peephole) weights, ``(num_units,)`` (default ``Normal(0.1)``); None
        for none (the attribute is then absent, as in Lasagne).
    b : initializer, numpy array or PyTensor expression
        Bias, ``(num_units,)`` (default 0).
    nonlinearity : callable or None
        :math:`\\sigma` (default :func:`~convnet.nonlinearities.sigmoid`); None for none.

    Examples
    --------
    A forget gate biased towards remembering (Gers et al., 2000):

    >>> from convnet import init
    >>> from convnet.layers import Gate, LSTMLayer
    >>> l_lstm = LSTMLayer((10, 20, 30), num_units=10, forgetgate=Gate(b=init.Constant(5.0)))
    >>> float(l_lstm.b_forgetgate.get_value()[0])
    5.0
    """

    def __init__(
        self,
        W_in: ParamSpec = init.Normal(0.1),
        W_hid: ParamSpec = init.Normal(0.1),
        W_cell: ParamSpec | None = init.Normal(0.1),
        b: ParamSpec | None = init.Constant(0.0),
        nonlinearity: Nonlinearity | None = nonlinearities.sigmoid,
    ):
        self.W_in = W_in
        self.W_hid = W_hid
        if W_cell is not None:
            self.W_cell = W_cell
        self.b = b
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity

    def __repr__(self) -> str:
        nl = getattr(self.nonlinearity, "__name__", repr(self.nonlinearity))
        return f"Gate(nonlinearity={nl}, peephole={hasattr(self, 'W_cell')})"


class _GatedBase(_RecurrentBase):
    """What :class:`LSTMLayer` and :class:`GRULayer` share: gate parameters stacked into one
    matrix product per step."""

    def _setup_gates(self, num_units: int, gates: dict) -> None:
        caller = label(self)
        self.num_units = check_int(num_units, caller=caller, argname="num_units", minimum=1)
        input_shape = self.input_shapes[0]
        if any(s is None for s in input_shape[2:]):
            raise ValueError(
                f"{caller}: expected known feature sizes (axes 2...), received input shape "
                f"{input_shape}"
            )
        num_inputs = int(np.prod(input_shape[2:]))
        n = self.num_units
        for gate_name, gate in gates.items():
            if not isinstance(gate, Gate):
                raise TypeError(
                    f"{caller}: {gate_name}: expected a Gate, received "
                    f"{type(gate).__name__} {gate!r}"
                )
            W_in = self.add_param(gate.W_in, (num_inputs, n), name=f"W_in_to_{gate_name}")
            W_hid = self.add_param(gate.W_hid, (n, n), name=f"W_hid_to_{gate_name}")
            b = self.add_param(gate.b, (n,), name=f"b_{gate_name}", regularizable=False)
            setattr(self, f"W_in_to_{gate_name}", W_in)
            setattr(self, f"W_hid_to_{gate_name}", W_hid)
            setattr(self, f"b_{gate_name}", b)
            attr = (
                "nonlinearity_hid" if gate_name == "hidden_update" else f"nonlinearity_{gate_name}"
            )
            setattr(self, attr, gate.nonlinearity)
        self._gate_names = list(gates)

    def _stacked(self) -> tuple:
        """``W_in (num_inputs, k*n)``, ``W_hid (n, k*n)`` and ``b (k*n,)``, gates in order."""
        names = self._gate_names
        W_in = T.concatenate([getattr(self, f"W_in_to_{g}") for g in names], axis=1)
        W_hid = T.concatenate([getattr(self, f"W_hid_to_{g}") for g in names], axis=1)
        b = T.concatenate([getattr(self, f"b_{g}") for g in names], axis=0)
        return W_in, W_hid, b

    def _gate(self, x: Variable, k: int) -> Variable:
        return x[:, k * self.num_units : (k + 1) * self.num_units]

    def _inputs(self, inputs: list) -> tuple:
        """The time-major input (projected if ``precompute_input``), mask, batch size and
        the stacked weights."""
        input, mask = self._split_inputs(inputs)
        input = self._time_major(input, flatten=True)
        W_in, W_hid, b = self._stacked()
        if self.precompute_input:
            input = T.dot(input, W_in) + b
        return input, mask, input.shape[1], (W_in, W_hid, b)


class LSTMLayer(_GatedBase):
    """A long short-term memory layer, with optional peepholes and a forget gate.

    .. math::
        i_t &= \\sigma_i(x_t W_{xi} + h_{t-1} W_{hi} + w_{ci} \\odot c_{t-1} + b_i)\\\\
        f_t &= \\sigma_f(x_t W_{xf} + h_{t-1} W_{hf} + w_{cf} \\odot c_{t-1} + b_f)\\\\
        c_t &= f_t \\odot c_{t-1} + i_t \\odot \\sigma_c(x_t W_{xc} + h_{t-1} W_{hc} + b_c)\\\\
        o_t &= \\sigma_o(x_t W_{xo} + h_{t-1} W_{ho} + w_{co} \\odot c_t + b_o)\\\\
        h_t &= o_t \\odot \\sigma_h(c_t)

    Parameters
    ----------
    incoming : Layer or tuple
        The sequence, ``(batch, time, *features)``; the features are flattened.
    num_units : int
        The number of hidden and cell units.
    ingate, forgetgate, outgate : Gate
        Input, forget and output gate (default ``Gate()``).
    cell : Gate
        The cell input (default ``Gate(W_cell=None, nonlinearity=tanh)``).
    nonlinearity : callable or None
        :math:`\\sigma_h` (default :func:`~convnet.nonlinearities.tanh`).
    cell_init, hid_init : initializer, numpy array, PyTensor expression or Layer
        :math:`c_0` and :math:`h_0`: parameters of shape ``(1, num_units)`` (default 0), or
        layers with output ``(batch, num_units)``.
    backwards, learn_init, gradient_steps, grad_clipping, unroll_scan, precompute_input, \
mask_input, only_return_final
        As in :class:`CustomRecurrentLayer`; ``grad_clipping`` clips the gradient of the
        gates' pre-activations (before the peepholes are added), ``learn_init`` makes both
        initial states trainable, and a mask carries both states over.
    peepholes : bool
        Use the cell-to-gate weights :math:`w_{ci}, w_{cf}, w_{co}` (default True); when
        False the gates' ``W_cell`` are ignored.
    **kwargs
        ``name``.

    Attributes
    ----------
    W_in_to_ingate, W_in_to_forgetgate, W_in_to_cell, W_in_to_outgate : shared variable
        ``(num_inputs, num_units)``, tags ``trainable, regularizable``.
    W_hid_to_ingate, W_hid_to_forgetgate, W_hid_to_cell, W_hid_to_outgate : shared variable
        ``(num_units, num_units)``, tags ``trainable, regularizable``.
    b_ingate, b_forgetgate, b_cell, b_outgate : shared variable
        ``(num_units,)``, tag ``trainable``.
    W_cell_to_ingate, W_cell_to_forgetgate, W_cell_to_outgate : shared variable
        ``(num_units,)``, tags ``trainable, regularizable``; only with ``peepholes``.
    cell_init, hid_init : shared variable or Layer
        ``(1, num_units)``, trainable if ``learn_init``, not regularizable.

    Notes
    -----
    Input ``(batch, time, *features)``; output (the hidden state :math:`h_t`)
    ``(batch, time, num_units)``, or ``(batch, num_units)`` with ``only_return_final``.
    Without peepholes this is PyTorch's ``nn.LSTM`` (gates in the same order, i, f, c, o;
    PyTorch's two biases summed into ``b``).

    References
    ----------
    Graves, Alex (2013): Generating sequences with recurrent neural networks.
    arXiv:1308.0850.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, LSTMLayer, get_output
    >>> l_in = InputLayer((None, None, 3))
    >>> l_mask = InputLayer((None, None))
    >>> l_lstm = LSTMLayer(l_in, 4, mask_input=l_mask, only_return_final=True)
    >>> l_lstm.output_shape
    (None, 4)
    >>> out = get_output(l_lstm).eval(
    ...     {l_in.input_var: np.ones((2, 5, 3)), l_mask.input_var: np.ones((2, 5))},
    ...     mode="FAST_COMPILE")
    >>> out.shape
    (2, 4)
    """

    def __init__(
        self,
        incoming: Incoming,
        num_units: int,
        ingate: Gate = Gate(),
        forgetgate: Gate = Gate(),
        cell: Gate = Gate(W_cell=None, nonlinearity=nonlinearities.tanh),
        outgate: Gate = Gate(),
        nonlinearity: Nonlinearity | None = nonlinearities.tanh,
        cell_init: ParamSpec | Layer = init.Constant(0.0),
        hid_init: ParamSpec | Layer = init.Constant(0.0),
        backwards: bool = False,
        learn_init: bool = False,
        peepholes: bool = True,
        gradient_steps: int = -1,
        grad_clipping: float = 0,
        unroll_scan: bool = False,
        precompute_input: bool = True,
        mask_input: Layer | None = None,
        only_return_final: bool = False,
        **kwargs: Any,
    ):
        super().__init__(
            incoming,
            init_specs={"hid_init": hid_init, "cell_init": cell_init},
            mask_input=mask_input,
            backwards=backwards,
            learn_init=learn_init,
            gradient_steps=gradient_steps,
            grad_clipping=grad_clipping,
            unroll_scan=unroll_scan,
            precompute_input=precompute_input,
            only_return_final=only_return_final,
            **kwargs,
        )
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity
        self.peepholes = bool(peepholes)
        gates = {"ingate": ingate, "forgetgate": forgetgate, "cell": cell, "outgate": outgate}
        self._setup_gates(num_units, gates)
        n = self.num_units
        if self.peepholes:
            for gate_name in ("ingate", "forgetgate", "outgate"):
                gate = gates[gate_name]
                if not hasattr(gate, "W_cell"):
                    raise ValueError(
                        f"{label(self)}: {gate_name}: expected a Gate with W_cell when "
                        f"peepholes=True, received one built with W_cell=None; give W_cell "
                        f"or set peepholes=False"
                    )
                name = f"W_cell_to_{gate_name}"
                setattr(self, name, self.add_param(gate.W_cell, (n,), name=name))
        self.cell_init = self._add_init("cell_init", cell_init, (1, n))
        self.hid_init = self._add_init("hid_init", hid_init, (1, n))

    def get_output_for(self, inputs, **kwargs):
        """The hidden states over time (see the class docstring for shapes).

        Parameters
        ----------
        inputs : list of pytensor tensors
            The sequence, then the mask, ``hid_init`` and ``cell_init`` where they are
            layers (in that order).
        """
        input, mask, num_batch, (W_in, W_hid, b) = self._inputs(inputs)
        gate = self._gate

        def step(input_n, cell_previous, hid_previous):
            if not self.precompute_input:
                input_n = T.dot(input_n, W_in) + b
            gates = self._clip(input_n + T.dot(hid_previous, W_hid))
            ingate, forgetgate = gate(gates, 0), gate(gates, 1)
            cell_input, outgate = gate(gates, 2), gate(gates, 3)
            if self.peepholes:
                ingate = ingate + cell_previous * self.W_cell_to_ingate
                forgetgate = forgetgate + cell_previous * self.W_cell_to_forgetgate
            ingate = self.nonlinearity_ingate(ingate)
            forgetgate = self.nonlinearity_forgetgate(forgetgate)
            cell = forgetgate * cell_previous + ingate * self.nonlinearity_cell(cell_input)
            if self.peepholes:
                outgate = outgate + cell * self.W_cell_to_outgate
            hid = self.nonlinearity_outgate(outgate) * self.nonlinearity(cell)
            return [cell, hid]

        cell_init = self._initial_state("cell_init", inputs, num_batch)
        hid_init = self._initial_state("hid_init", inputs, num_batch)
        _, hid_out = self._recur(step, [input], [cell_init, hid_init], mask)
        return self._output(hid_out)


class GRULayer(_GatedBase):
    """A gated recurrent unit layer (Cho et al., 2014).

    .. math::
        r_t &= \\sigma_r(x_t W_{xr} + h_{t-1} W_{hr} + b_r)\\\\
        u_t &= \\sigma_u(x_t W_{xu} + h_{t-1} W_{hu} + b_u)\\\\
        c_t &= \\sigma_c(x_t W_{xc} + r_t \\odot (h_{t-1} W_{hc}) + b_c)\\\\
        h_t &= (1 - u_t) \\odot h_{t-1} + u_t \\odot c_t

    Parameters
    ----------
    incoming : Layer or tuple
        The sequence, ``(batch, time, *features)``; the features are flattened.
    num_units : int
        The number of hidden units.
    resetgate, updategate : Gate
        :math:`r_t` and :math:`u_t` (default ``Gate(W_cell=None)``).
    hidden_update : Gate
        The candidate :math:`c_t` (default ``Gate(W_cell=None, nonlinearity=tanh)``).
    hid_init : initializer, numpy array, PyTensor expression or Layer
        :math:`h_0`: a parameter of shape ``(1, num_units)`` (default 0), or a layer with
        output ``(batch, num_units)``.
    backwards, learn_init, gradient_steps, grad_clipping, unroll_scan, precompute_input, \
mask_input, only_return_final
        As in :class:`CustomRecurrentLayer`; ``grad_clipping`` clips the gradients of the
        step's input and hidden projections and of the candidate's pre-activation.
    **kwargs
        ``name``.

    Attributes
    ----------
    W_in_to_resetgate, W_in_to_updategate, W_in_to_hidden_update : shared variable
        ``(num_inputs, num_units)``, tags ``trainable, regularizable``.
    W_hid_to_resetgate, W_hid_to_updategate, W_hid_to_hidden_update : shared variable
        ``(num_units, num_units)``, tags ``trainable, regularizable``.
    b_resetgate, b_updategate, b_hidden_update : shared variable
        ``(num_units,)``, tag ``trainable``.
    hid_init : shared variable or Layer
        ``(1, num_units)``, trainable if ``learn_init``, not regularizable.

    Notes
    -----
    Input ``(batch, time, *features)``; output ``(batch, time, num_units)``, or
    ``(batch, num_units)`` with ``only_return_final``.

    The reset gate multiplies the hidden state's projection, :math:`r_t \\odot (h_{t-1}
    W_{hc})`, as in Cho et al. and PyTorch's ``nn.GRU`` (whose extra bias inside the
    product, ``b_hn``, is absent here), not the hidden state before the product,
    :math:`(r_t \\odot h_{t-1}) W_{hc}`, as in Chung et al. (2014). PyTorch's update gate
    :math:`z_t` is :math:`1 - u_t`.

    References
    ----------
    Cho, Kyunghyun, et al. (2014): On the properties of neural machine translation:
    encoder-decoder approaches. arXiv:1409.1259.

    Chung, Junyoung, et al. (2014): Empirical evaluation of gated recurrent neural networks
    on sequence modeling. arXiv:1412.3555.

    Examples
    --------
    >>> from convnet.layers import InputLayer, GRULayer
    >>> l_gru = GRULayer(InputLayer((None, 7, 3)), num_units=5, backwards=True)
    >>> l_gru.output_shape
    (None, 7, 5)
    >>> l_gru.W_hid_to_resetgate.get_value().shape
    (5, 5)
    """

    def __init__(
        self,
        incoming: Incoming,
        num_units: int,
        resetgate: Gate = Gate(W_cell=None),
        updategate: Gate = Gate(W_cell=None),
        hidden_update: Gate = Gate(W_cell=None, nonlinearity=nonlinearities.tanh),
        hid_init: ParamSpec | Layer = init.Constant(0.0),
        backwards: bool = False,
        learn_init: bool = False,
        gradient_steps: int = -1,
        grad_clipping: float = 0,
        unroll_scan: bool = False,
        precompute_input: bool = True,
        mask_input: Layer | None = None,
        only_return_final: bool = False,
        **kwargs: Any,
    ):
        super().__init__(
            incoming,
            init_specs={"hid_init": hid_init},
            mask_input=mask_input,
            backwards=backwards,
            learn_init=learn_init,
            gradient_steps=gradient_steps,
            grad_clipping=grad_clipping,
            unroll_scan=unroll_scan,
            precompute_input=precompute_input,
            only_return_final=only_return_final,
            **kwargs,
        )
        gates = {"resetgate": resetgate, "updategate": updategate, "hidden_update": hidden_update}
        self._setup_gates(num_units, gates)
        self.hid_init = self._add_init("hid_init", hid_init, (1, self.num_units))

    def get_output_for(self, inputs, **kwargs):
        """The hidden states over time (see the class docstring for shapes).

        Parameters
        ----------
        inputs : list of pytensor tensors
            The sequence, then the mask and ``hid_init`` where they are layers.
        """
        input, mask, num_batch, (W_in, W_hid, b) = self._inputs(inputs)
        gate = self._gate

        def step(input_n, hid_previous):
            hid_input = self._clip(T.dot(hid_previous, W_hid))
            if self.precompute_input:
                input_n = self._clip(input_n)
            else:
                input_n = T.dot(self._clip(input_n), W_in) + b
            resetgate = self.nonlinearity_resetgate(gate(input_n, 0) + gate(hid_input, 0))
            updategate = self.nonlinearity_updategate(gate(input_n, 1) + gate(hid_input, 1))
            hidden_update = self._clip(gate(input_n, 2) + resetgate * gate(hid_input, 2))
            hidden_update = self.nonlinearity_hid(hidden_update)
            return (1 - updategate) * hid_previous + updategate * hidden_update

        hid_init = self._initial_state("hid_init", inputs, num_batch)
        (hid_out,) = self._recur(step, [input], [hid_init], mask)
        return self._output(hid_out)
