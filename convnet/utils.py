"""Small helpers shared by the layers, initializers and update rules (Lasagne's ``utils``)."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as T
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph import Variable

from ._errors import InputTypeError
from ._types import Array, ArrayLike, ParamSpec, TensorLike

__all__ = [
    "int_types",
    "floatX",
    "shared_empty",
    "as_theano_expression",
    "collect_shared_vars",
    "one_hot",
    "unique",
    "as_tuple",
    "inspect_kwargs",
    "compute_norms",
    "create_param",
    "unroll_scan",
]

#: The types accepted wherever Lasagne accepts an integer.
int_types = (numbers.Integral, np.integer)


def floatX(arr: ArrayLike) -> np.ndarray:
    """Convert ``arr`` to a NumPy array of dtype ``pytensor.config.floatX``.

    Parameters
    ----------
    arr : array_like
        The data to convert.

    Returns
    -------
    numpy.ndarray
        ``arr`` as an array of dtype floatX (no copy if it already is one).

    Examples
    --------
    >>> import pytensor
    >>> from convnet.utils import floatX
    >>> floatX([1, 2]).dtype == pytensor.config.floatX
    True
    """
    return np.asarray(arr, dtype=pytensor.config.floatX)


def shared_empty(dim: int = 2, dtype: str | None = None) -> SharedVariable:
    """Create a shared variable of ``dim`` dimensions, each of size 1, filled with zeros.

    Parameters
    ----------
    dim : int
        Number of dimensions.
    dtype : str or None
        Data type; None means ``pytensor.config.floatX``.

    Returns
    -------
    SharedVariable
        A shared variable holding ``numpy.zeros((1,) * dim, dtype)``.

    Examples
    --------
    >>> from convnet.utils import shared_empty
    >>> shared_empty(3, dtype="float32").get_value().shape
    (1, 1, 1)
    """
    if dtype is None:
        dtype = pytensor.config.floatX
    return pytensor.shared(np.zeros((1,) * dim, dtype=dtype))


def as_theano_expression(input: TensorLike) -> Variable:
    """Wrap ``input`` as a PyTensor expression (named after Lasagne's helper).

    Parameters
    ----------
    input : PyTensor variable, array_like or number
        A PyTensor variable is returned unchanged; anything else becomes a constant.

    Returns
    -------
    pytensor Variable

    Raises
    ------
    TypeError
        If ``input`` can be neither.

    Examples
    --------
    >>> from convnet.utils import as_theano_expression
    >>> as_theano_expression([1.0, 2.0]).ndim
    1
    """
    if isinstance(input, Variable):
        return input
    try:
        return T.constant(input)
    except Exception as e:
        raise TypeError(
            f"as_theano_expression: expected a PyTensor expression or something "
            f"convertible to a constant, received {type(input).__name__} ({e})"
        ) from e


def collect_shared_vars(expressions: Variable | Iterable[Variable]) -> list[SharedVariable]:
    """Return the shared variables that ``expressions`` depend on, without duplicates.

    Parameters
    ----------
    expressions : pytensor Variable or iterable of Variables
        The expressions to inspect.

    Returns
    -------
    list of SharedVariable
        In the order a left-first depth-first search finds them, expression after
        expression: ``(x + y) + z`` and ``x + (y + z)`` both give ``[x, y, z]``. This is
        Lasagne's order, on which saved parameter lists and
        :func:`~convnet.layers.set_all_param_values` rely.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> from convnet.utils import collect_shared_vars
    >>> a = pytensor.shared(np.ones(2), name="a")
    >>> b = pytensor.shared(np.ones(2), name="b")
    >>> sorted(v.name for v in collect_shared_vars([a + b, 2 * a]))
    ['a', 'b']
    """
    if isinstance(expressions, Variable):
        expressions = [expressions]
    # An explicit stack, popped from the end: the first input of each node is visited first.
    stack = list(expressions)[::-1]
    seen = set()
    found = []
    while stack:
        var = stack.pop()
        if var in seen:
            continue
        seen.add(var)
        if isinstance(var, SharedVariable):
            found.append(var)
        elif var.owner is not None:
            stack.extend(reversed(var.owner.inputs))
    return found


def one_hot(x: TensorLike, m: int | Variable | None = None) -> Variable:
    """One-hot encode a vector of integer class labels.

    Parameters
    ----------
    x : integer tensor
        Labels, shape ``(n,)``.
    m : int or scalar tensor, optional
        Number of classes; default ``max(x) + 1``.

    Returns
    -------
    pytensor tensor
        Shape ``(n, m)``, dtype floatX.

    Examples
    --------
    >>> import pytensor.tensor as T
    >>> from convnet.utils import one_hot
    >>> one_hot(T.as_tensor_variable([0, 2]), 3).eval(mode="FAST_COMPILE")
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """
    x = as_theano_expression(x)
    if m is None:
        m = T.cast(T.max(x) + 1, "int32")
    return T.eye(m, dtype=pytensor.config.floatX)[T.cast(x, "int32")]


def unique(l: Iterable[Any]) -> list[Any]:
    """Return the elements of ``l`` without duplicates, in order of first appearance.

    Examples
    --------
    >>> from convnet.utils import unique
    >>> unique([3, 1, 3, 2, 1])
    [3, 1, 2]
    """
    new_list = []
    seen = set()
    for el in l:
        if el not in seen:
            new_list.append(el)
            seen.add(el)
    return new_list


def _type_name(t: type | tuple[type, ...]) -> str:
    if t is int_types or t == int_types:
        return "int"
    if isinstance(t, tuple):
        return " or ".join(tt.__name__ for tt in t)
    return t.__name__


def as_tuple(
    x: object, N: int, t: type | tuple[type, ...] | None = None, name: str | None = None
) -> tuple:
    """Return ``x`` as a tuple of length ``N`` (a single value is repeated ``N`` times).

    Parameters
    ----------
    x : value or iterable
        The value to coerce.
    N : int
        The required length.
    t : type or tuple of types, optional
        If given, every element must be an instance of it.
    name : str, optional
        What ``x`` is (e.g. ``"Conv2DLayer 'conv1': filter_size"``); starts any error
        message, so that it names the failing argument.

    Returns
    -------
    tuple

    Raises
    ------
    TypeError
        If an element is not of type ``t``.
    ValueError
        If ``x`` is an iterable of the wrong length.

    Examples
    --------
    >>> from convnet.utils import as_tuple, int_types
    >>> as_tuple(3, 2)
    (3, 3)
    >>> as_tuple((1, 2, 3), 2, int_types, name="filter_size")
    Traceback (most recent call last):
    ...
    ValueError: filter_size: expected a single value or an iterable of length 2, received (1, 2, 3)
    """
    prefix = f"{name}: " if name else ""
    try:
        X = tuple(x)
    except TypeError:
        X = (x,) * N
    if isinstance(x, str):
        X = (x,) * N
    if t is not None and not all(isinstance(v, t) and not isinstance(v, bool) for v in X):
        raise TypeError(
            f"{prefix}expected a single {_type_name(t)} or an iterable of {_type_name(t)}, "
            f"received {x!r}"
        )
    if len(X) != N:
        raise ValueError(
            f"{prefix}expected a single value or an iterable of length {N}, received {x!r}"
        )
    return X


def inspect_kwargs(func: Callable) -> list[str]:
    """Return the names of the keyword arguments (those with defaults) of ``func``.

    Examples
    --------
    >>> from convnet.utils import inspect_kwargs
    >>> inspect_kwargs(lambda a, b=1, c=2: None)
    ['b', 'c']
    """
    params = inspect.signature(func).parameters
    return [p.name for p in params.values() if p.default is not p.empty]


def compute_norms(
    array: Array | Variable, norm_axes: Sequence[int] | None = None
) -> Array | Variable:
    """Compute the L2 norms of the incoming weight vectors of each unit.

    Parameters
    ----------
    array : numpy.ndarray or pytensor tensor
        Weights: ``(num_inputs, num_units)`` for a dense layer, ``(num_filters, ...)``
        for a convolution.
    norm_axes : sequence of int, optional
        Axes to sum over; by default ``()`` for 1-d, ``(0,)`` for 2-d and all but the
        first axis for 3-d to 5-d arrays.

    Returns
    -------
    numpy.ndarray or pytensor tensor
        The norms (absolute values if no axis is summed over).

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.utils import compute_norms
    >>> compute_norms(np.array([[3.0, 0.0], [4.0, 1.0]]))
    array([5., 1.])
    """
    if not isinstance(array, (Variable, np.ndarray)):
        raise InputTypeError(
            f"compute_norms: expected a numpy array or a PyTensor variable, received "
            f"{type(array).__name__}"
        )
    ndim = array.ndim
    if norm_axes is not None:
        sum_over = tuple(norm_axes)
    elif ndim == 1:
        sum_over = ()
    elif ndim == 2:
        sum_over = (0,)
    elif ndim in (3, 4, 5):
        sum_over = tuple(range(1, ndim))
    else:
        raise ValueError(
            f"compute_norms: unsupported array with {ndim} dimensions; expected 1 to 5 "
            f"dimensions, or pass norm_axes"
        )
    if isinstance(array, Variable):
        if not sum_over:
            return abs(array)
        return T.sqrt(T.sum(T.sqr(array), axis=sum_over))
    if not sum_over:
        return np.abs(array)
    return np.sqrt(np.sum(array**2, axis=sum_over))


def create_param(spec: ParamSpec, shape: Sequence[int], name: str | None = None) -> Variable:
    """Create a parameter from an initializer, array or PyTensor expression.

    Parameters
    ----------
    spec : numpy array, PyTensor variable or callable
        * an array becomes a shared variable holding it (its shape must be ``shape``);
        * a PyTensor variable (shared or an expression) is used as it is (its number of
          dimensions must match);
        * a callable (such as a :mod:`convnet.init` initializer) is called with ``shape``
          and must return one of the above.
    shape : tuple of int
        The parameter's shape; all sizes must be positive.
    name : str, optional
        Name given to a created shared variable (and to a variable without a name).

    Returns
    -------
    pytensor Variable
        A shared variable, or ``spec`` itself if it was a variable.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet import init
    >>> from convnet.utils import create_param
    >>> W = create_param(init.Constant(0.5), (2, 3), name="W")
    >>> W.name, W.get_value().shape
    ('W', (2, 3))
    >>> create_param(np.zeros((2, 2)), (2, 3), name="W")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: cannot initialize parameter W: ... has shape (2, 2), expected (2, 3)
    """
    shape = tuple(shape)
    if any(d is None or d <= 0 for d in shape):
        raise ValueError(
            f"cannot create parameter {name}: expected positive sizes, received shape {shape}"
        )
    what = f"cannot initialize parameter {name}: the {{}}"
    if callable(spec) and not isinstance(spec, Variable):
        spec = spec(shape)
        what = what.format("{} returned by the provided callable")
    else:
        what = what.format("provided {}")
    if isinstance(spec, numbers.Number) or (
        isinstance(spec, np.generic) and spec.dtype.kind in "biufc"
    ):
        spec = np.asarray(spec)
    if isinstance(spec, np.ndarray):
        if spec.shape != shape:
            raise ValueError(
                f"{what.format('numpy array')} has shape {spec.shape}, expected {shape}"
            )
        # A fully static shape lets PyTensor prove shapes equal (no run-time shape
        # assertions in compiled graphs); parameters keep their shape for life.
        spec = pytensor.shared(spec, shape=shape)
    if isinstance(spec, Variable):
        if spec.ndim != len(shape):
            raise ValueError(
                f"{what.format('PyTensor variable')} has {spec.ndim} dimensions, expected "
                f"{len(shape)} (shape {shape})"
            )
        if not spec.name:
            spec.name = name
        return spec
    if "callable" in what:
        raise TypeError(
            f"{what.format('value')} is a {type(spec).__name__}, expected a numpy array "
            f"or a PyTensor expression"
        )
    raise TypeError(
        f"{what.format('spec')} is a {type(spec).__name__}, expected a numpy array, "
        f"a PyTensor expression or a callable"
    )


def unroll_scan(
    fn: Callable,
    sequences: Variable | Sequence[Variable],
    outputs_info: Sequence[Any],
    non_sequences: Sequence[Any],
    n_steps: int,
    go_backwards: bool = False,
) -> list[Variable]:
    """A Python-loop replacement for ``pytensor.scan`` with a fixed number of steps.

    Parameters
    ----------
    fn : callable
        Step function ``fn(*sequence_slices, *previous_outputs, *non_sequences)``
        returning one output or a list of outputs.
    sequences : tensor or list of tensors
        Iterated over their first axis.
    outputs_info : list of tensors
        Initial values of the recurrent outputs.
    non_sequences : list
        Passed unchanged to every step.
    n_steps : int
        Number of steps (must be a Python int).
    go_backwards : bool
        Iterate from the last step to the first.

    Returns
    -------
    list of tensors
        Each output stacked over the steps (in the order they were computed).

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as T
    >>> from convnet.utils import unroll_scan
    >>> x = T.as_tensor_variable(np.arange(4.0))
    >>> (cumsum,) = unroll_scan(lambda xi, acc: acc + xi, [x],
    ...                         [T.as_tensor_variable(0.0)], [], 4)
    >>> cumsum.eval(mode="FAST_COMPILE")
    array([0., 1., 3., 6.])
    """
    if not isinstance(sequences, (list, tuple)):
        sequences = [sequences]
    counter = range(n_steps)
    if go_backwards:
        counter = counter[::-1]
    output = []
    prev_vals = list(outputs_info)
    for i in counter:
        step_input = [s[i] for s in sequences] + prev_vals + list(non_sequences)
        out = fn(*step_input)
        if isinstance(out, Variable):
            out = [out]
        out = list(out)
        output.append(out)
        prev_vals = out
    return [T.stack([step[i] for step in output]) for i in range(len(output[0]))]
