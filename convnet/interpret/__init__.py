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

Each concern lives in a private module of its own: ``_gradients`` (:class:`InputGradient`
and the maps built on it), ``_attacks`` (:class:`Classifier` and the attacks) and ``_plots``
(their figures), with what the first two share in ``_scores`` (a network's logits and class
scores) and ``_rectifiers`` (rectifiers with a replaced backward pass). Import everything
from ``convnet.interpret``.

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

from ._attacks import AttackResult, Classifier, fgsm, fooling_images, targeted_attack
from ._gradients import InputGradient, deconvnet, guided_backprop, saliency_map
from ._plots import plot_attack, plot_saliency

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
