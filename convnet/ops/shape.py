"""An identity operator that makes PyTensor read its output's shape off the computed value.

PyTensor's shape inference replaces ``x.shape`` by an expression of the shapes upstream
(``Reshape`` targets, products, ``-1`` resolved by division). Under the JAX backend such an
expression is a traced value, and JAX needs concrete shapes wherever a shape becomes an
argument: the size of random numbers (dropout, noise) or the target of a reshape. After
``y = concrete_shape(x)``, ``y.shape`` is read from ``y`` itself, which JAX knows exactly
when it traces. Static dimensions stay static, and the operator costs nothing after XLA's
simplification.
"""

from __future__ import annotations

import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor.variable import TensorVariable

from .._types import TensorLike

__all__ = ["ConcreteShape", "concrete_shape"]


class ConcreteShape(Op):
    """Identity without shape inference (see the module docstring)."""

    __props__ = ()
    view_map = {0: [0]}

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = inputs[0]

    def pullback(self, inputs, outputs, output_grads):
        return [output_grads[0]]


_concrete_shape = ConcreteShape()


def concrete_shape(x: TensorLike) -> TensorVariable:
    """Return ``x`` unchanged, with a shape that PyTensor reads off the value (JAX-safe).

    Examples
    --------
    >>> import pytensor.tensor as T
    >>> x = T.matrix("x")
    >>> concrete_shape(x).type == x.type
    True
    """
    return _concrete_shape(x)
