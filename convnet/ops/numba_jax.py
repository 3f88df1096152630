"""Plain ``pytensor.function`` on convnet's graphs: the numba graph hands its body to JAX.

A Lasagne script calls ``theano.function``, i.e. PyTensor's default mode, whose linker is
numba. numba compiles one function per operator and links every callee's code again into
each caller; for Lasagne's MNIST CNN that is about 150 functions and 45-55 s of compilation
on a 2-core machine before the first batch, of which PyTensor's own operators (elementwise
loops, reductions, softmax, the graph function) take more than 20 s by themselves. XLA
compiles the same training step in 2-4 s.

So when a numba-linked function is compiled from a graph built with convnet (one that holds
one of convnet's operators), the first rewrite replaces what the graph's outputs need, except
the random draws, by one :class:`JaxGraph` node, taken from the graph as the user built it.
Its numba implementation calls, through numba's object mode, that subgraph compiled by
:func:`convnet.function`'s JAX mode (the same rewrites, conversion, kernels, compilation
cache and float64 handling). The draws stay with numba (PyTensor's NumPy generators, so the
streams and the generator updates are PyTensor's); the sizes they need, read off layers'
outputs, become arithmetic on the input's shape through PyTensor's shape inference once
:class:`~convnet.ops.ConcreteShape` leaves the numba part. The results equal those of the
numba kernels to rounding.

The JAX function is compiled on the node's first call. If JAX cannot compile the subgraph
(an operator without a JAX conversion, a shape JAX cannot make static), the node warns once
and compiles the same subgraph with numba instead, as if this module did not exist.

Opting out: ``CONVNET_NUMBA_JAX=0`` in the environment, or per function
``mode=pytensor.compile.get_mode("NUMBA").excluding("convnet_numba_jax")``.
"""

from __future__ import annotations

import os
import threading
import warnings

import numpy as np
from pytensor.compile.mode import optdb
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.graph.replace import clone_replace
from pytensor.graph.rewriting.basic import GraphRewriter
from pytensor.tensor.random.type import RandomType

try:  # PyTensor >= 3.1; the old home warns (FutureWarning)
    from pytensor.graph.traversal import ancestors
except ImportError:  # pragma: no cover - PyTensor 3.0
    from pytensor.graph.basic import ancestors

from .conv import Conv, ConvGradInput, ConvGradWeights
from .pool import MaxPoolGather, Pool, PoolGrad
from .shape import ConcreteShape

__all__ = ["ENV_VAR", "JaxGraph", "REWRITE_NAME"]

#: Set to ``0`` to compile convnet's graphs entirely with numba under the numba linker.
ENV_VAR = "CONVNET_NUMBA_JAX"

#: The rewrite's name in PyTensor's rewrite database (for ``Mode.excluding``).
REWRITE_NAME = "convnet_numba_jax"

#: convnet's operators: a graph holding one of them was built with convnet.
_CONVNET_OPS = (Conv, ConvGradInput, ConvGradWeights, Pool, PoolGrad, MaxPoolGather, ConcreteShape)


class JaxGraph(Op):
    """A subgraph compiled with convnet's JAX mode; under numba it runs in object mode.

    Parameters
    ----------
    inputs : list of Variable
        The subgraph's inputs (fresh variables, no owner).
    outputs : list of Variable
        Its outputs, computed from ``inputs`` (and constants).
    """

    def __init__(self, inputs, outputs):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self._lock = threading.Lock()
        self._fn = None

    def make_node(self, *inputs):
        if len(inputs) != len(self.inputs):
            raise ValueError(
                f"JaxGraph: expected {len(self.inputs)} inputs, received {len(inputs)}"
            )
        for i, (given, inner) in enumerate(zip(inputs, self.inputs)):
            if not given.type.is_super(inner.type):
                raise TypeError(
                    f"JaxGraph: input {i}: expected type {inner.type}, received {given.type}"
                )
        return Apply(self, list(inputs), [o.type() for o in self.outputs])

    def __str__(self):
        return f"JaxGraph{{{len(self.inputs)} inputs, {len(self.outputs)} outputs}}"

    def _function(self):
        """The compiled subgraph (JAX, or numba when JAX cannot compile it): on first use."""
        with self._lock:
            if self._fn is None:
                self._fn = _Compiled(self.inputs, self.outputs)
            return self._fn

    def __getstate__(self):  # numba pickles what its object-mode blocks call
        state = self.__dict__.copy()
        state["_lock"] = state["_fn"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def run(self, inputs):
        """The outputs for ``inputs`` as writable C-contiguous NumPy arrays (a tuple)."""
        results = self._function()(inputs)
        return tuple(_writable(r, o.type.dtype) for r, o in zip(results, self.outputs))

    def perform(self, node, inputs, output_storage):
        for storage, result in zip(output_storage, self.run(inputs)):
            storage[0] = result


def _writable(value, dtype):
    """A writable C-contiguous NumPy array of ``dtype`` (numba's object mode unboxes those)."""
    array = np.asarray(value)
    if array.dtype != dtype or not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, dtype=dtype, order="C")
    return array


def _jax_limits():
    """Exceptions by which JAX says it cannot trace a graph (not that the inputs are wrong)."""
    import jax

    names = (
        "ConcretizationTypeError",
        "TracerIntegerConversionError",
        "TracerArrayConversionError",
        "TracerBoolConversionError",
        "NonConcreteBooleanIndexError",
    )
    return (NotImplementedError,) + tuple(
        getattr(jax.errors, name) for name in names if hasattr(jax.errors, name)
    )


def _is_jax_limit(error):
    """Whether ``error`` says that JAX cannot trace the graph (a value it needs static)."""
    if isinstance(error, _jax_limits()):
        return True
    text = str(error)
    return "Tracer" in text or "static" in text or "concrete" in text.lower()


class _Compiled:
    """Calls the subgraph through JAX, or through numba when JAX cannot compile it.

    A failure to convert the graph, or one of JAX's tracing errors at the first call, makes
    numba compile the subgraph instead (with a warning). Any other error of a call (wrong
    shapes, ...) is the caller's and propagates; the next call tries JAX again.
    """

    def __init__(self, inputs, outputs):
        self._inputs, self._outputs = inputs, outputs
        self._fn = None
        self._checked = False

    def __call__(self, values):
        if self._checked:
            return self._fn(*values)
        if self._fn is None:
            from ..backend import function

            try:
                self._fn = function(
                    self._inputs, self._outputs, mode="jax", on_unused_input="ignore"
                )
            except Exception as error:  # noqa: BLE001 - whatever the conversion raised
                return self._fall_back(error, values)
        try:
            results = self._fn(*values)
        except Exception as error:
            if not _is_jax_limit(error):
                raise
            return self._fall_back(error, values)
        self._checked = True
        return results

    def _fall_back(self, error, values):
        import pytensor
        from pytensor.compile.mode import get_mode

        first_line = str(error).splitlines()[0] if str(error) else ""
        warnings.warn(
            f"convnet: JAX cannot run the body of this numba function ({type(error).__name__}: "
            f"{first_line}); compiling it with numba instead",
            RuntimeWarning,
            stacklevel=3,
        )
        mode = get_mode("NUMBA").excluding(REWRITE_NAME)
        self._fn = pytensor.function(
            self._inputs, self._outputs, mode=mode, on_unused_input="ignore"
        )
        self._checked = True
        return self._fn(*values)


def _draws(fgraph):
    """Nodes that read or write a random generator: they stay with numba."""
    return [
        node
        for node in fgraph.apply_nodes
        if any(isinstance(v.type, RandomType) for v in node.inputs + node.outputs)
    ]


class _DropConcreteShape(GraphRewriter):
    """Under numba, :class:`ConcreteShape` (an identity that hides shapes from PyTensor's
    shape inference, for JAX) only costs: remove it from what numba runs, so that the sizes
    the random draws need become arithmetic on the input's shape (the layers they were read
    from are then no longer computed outside the JAX body)."""

    def apply(self, fgraph):
        for node in fgraph.toposort():
            if isinstance(node.op, ConcreteShape):  # node.inputs follow earlier replacements
                fgraph.replace(node.outputs[0], node.inputs[0], reason=_DROP_NAME)


class _JaxBody(GraphRewriter):
    """Replace what JAX can run of a convnet graph by one :class:`JaxGraph` node.

    It runs first, on the graph as the user built it, so the body is what
    :func:`convnet.function` would compile. The body is everything the graph's outputs need
    except the random draws, whose samples become its inputs. What a draw needs (its size,
    read off a layer's output) stays in the numba graph, where shape inference then reduces
    it to arithmetic on the input's shape.
    """

    def apply(self, fgraph):
        if os.environ.get(ENV_VAR, "1").strip() == "0":
            return
        if not any(isinstance(node.op, _CONVNET_OPS) for node in fgraph.apply_nodes):
            return
        draws = _draws(fgraph)
        drawn = {out for node in draws for out in node.outputs}
        # what the draws need stays theirs (replacing it would make them need the body)
        drawn.update(ancestors([v for node in draws for v in node.inputs]))
        outputs = []
        for out in fgraph.outputs:
            if out.owner is None or out in drawn or out in outputs:
                continue
            outputs.append(out)
        if not outputs:
            return
        sources = [v for v in fgraph.inputs if not isinstance(v.type, RandomType)]
        sources += [v for node in draws for v in node.outputs if not isinstance(v.type, RandomType)]
        used = set(ancestors(outputs, blockers=sources))
        inputs = [v for v in sources if v in used]
        inner_inputs = [v.type() for v in inputs]
        inner_outputs = clone_replace(outputs, replace=dict(zip(inputs, inner_inputs)))
        node = JaxGraph(inner_inputs, inner_outputs).make_node(*inputs)
        fgraph.replace_all_validate(list(zip(outputs, node.outputs)), reason=REWRITE_NAME)


_DROP_NAME = "convnet_numba_drop_concrete_shape"
# Under every mode with the numba linker (its rewrites carry the tag "numba"): the body first,
# right after the first merge (position 0), on the graph as built; then ConcreteShape leaves
# what numba runs, before the shape feature (0.1) records the shapes it would hide.
optdb.register(REWRITE_NAME, _JaxBody(), "numba", position=0.03)
optdb.register(_DROP_NAME, _DropConcreteShape(), "numba", position=0.06)
