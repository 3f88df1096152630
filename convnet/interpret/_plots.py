"""Figures of explanations and attacks: :func:`plot_saliency` and :func:`plot_attack`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .._figures import clear_ticks, display_image, display_signed, finish_figure, new_figure
from .._types import ArrayLike
from ._attacks import AttackResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_saliency", "plot_attack"]


def plot_saliency(
    images: ArrayLike,
    maps: Mapping[str, ArrayLike] | ArrayLike,
    path: str | os.PathLike | None = None,
    show: bool = False,
    titles: Sequence[str] | None = None,
    clip: tuple[float, float] | None = None,
    dpi: int = 100,
) -> Figure:
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
    caller = "plot_saliency"
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"{caller}: images: expected shape (batch, channels, rows, cols), received "
            f"{images.shape}"
        )
    if not isinstance(maps, Mapping):
        maps = {"explanation": maps}
    columns = {}
    for name, value in maps.items():
        value = np.asarray(value)
        if value.shape[0] != images.shape[0] or value.shape[-2:] != images.shape[-2:]:
            raise ValueError(
                f"{caller}: maps[{name!r}]: expected one map per image with the images' size "
                f"{images.shape[-2:]}, received shape {value.shape} for {images.shape[0]} images"
            )
        columns[name] = value
    n, k = images.shape[0], 1 + len(columns)
    fig = new_figure(f"convnet.interpret.{caller}", show, (2.0 * k, 2.0 * n + 0.3), dpi)
    axes = fig.subplots(n, k, squeeze=False)
    for i in range(n):
        img, cmap = display_image(images[i], clip)
        axes[i, 0].imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        if titles is not None:
            axes[i, 0].set_title(str(titles[i]), fontsize=9)
        elif i == 0:
            axes[i, 0].set_title("image", fontsize=9)
        for j, (name, value) in enumerate(columns.items(), start=1):
            if value.ndim == 3:
                axes[i, j].imshow(value[i], cmap="magma", interpolation="nearest")
            else:
                axes[i, j].imshow(interpolation="nearest", **display_signed(value[i]))
            if i == 0:
                axes[i, j].set_title(name, fontsize=9)
    clear_ticks(axes.ravel())
    fig.tight_layout()
    return finish_figure(fig, path, show)


def plot_attack(
    result: AttackResult,
    index: int = 0,
    path: str | os.PathLike | None = None,
    show: bool = False,
    class_names: Sequence[str] | None = None,
    dpi: int = 100,
) -> Figure:
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
    caller = "plot_attack"
    if not isinstance(result, AttackResult):
        raise TypeError(
            f"{caller}: result: expected an AttackResult, received {type(result).__name__}"
        )
    n = len(result.original)
    if not -n <= index < n:
        raise ValueError(f"{caller}: index: expected an int in [0, {n}), received {index!r}")

    def name(label: int) -> str:
        label = int(label)
        return repr(class_names[label]) if class_names is not None else str(label)

    before, after = result.original[index], result.adversarial[index]
    if before.ndim != 3:
        raise ValueError(
            f"{caller}: expected images of shape (channels, rows, cols), received {before.shape}"
        )
    fooling = result.method == "fooling"
    fig = new_figure(f"convnet.interpret.{caller}", show, (7.5, 2.9), dpi)
    axes = fig.subplots(1, 3)
    img, cmap = display_image(before, result.clip)
    axes[0].imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    axes[0].set_title(
        f"{'start' if fooling else 'original'}: {name(result.original_label[index])}\n"
        f"({result.original_confidence[index]:.1%})",
        fontsize=9,
    )
    axes[1].imshow(interpolation="nearest", **display_signed(result.perturbation[index]))
    axes[1].set_title(
        f"{'change' if fooling else 'perturbation'}\n"
        f"L2 {result.l2[index]:.3g}, Linf {result.linf[index]:.3g}",
        fontsize=9,
    )
    img, cmap = display_image(after, result.clip)
    axes[2].imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    title = (
        f"{'fooling' if fooling else 'adversarial'}: {name(result.label[index])}\n"
        f"({result.confidence[index]:.1%})"
    )
    if result.target is not None and result.target[index] != result.label[index]:
        title += f", target {name(result.target[index])}"
    axes[2].set_title(title, fontsize=9)
    clear_ticks(axes)
    fig.tight_layout()
    return finish_figure(fig, path, show)
