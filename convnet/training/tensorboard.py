"""TensorBoard logging of a training run, as a :class:`~convnet.training.Callback`.

:class:`TensorBoard` writes TensorBoard event files through ``tensorboardX``'s writer (an
optional dependency: ``pip install 'convnet[tensorboard]'``); ``tensorboard --logdir DIR``
shows them. It uses only the callback protocol: the :class:`~convnet.training.Trainer`
owns the fit loop and calls it; this module owns what is logged, under which tag and step.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import numpy as np

from .._checks import check_int
from .._types import ArrayLike
from .callbacks import Callback

if TYPE_CHECKING:
    from pytensor.compile.sharedvalue import SharedVariable
    from tensorboardX import SummaryWriter

    from ..layers import Layer

__all__ = ["TensorBoard"]


def _summary_writer(log_dir: str, caller: str) -> SummaryWriter:
    try:
        from tensorboardX import SummaryWriter
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs tensorboardX, which is not installed: pip install tensorboardX "
            f"(or pip install 'convnet[tensorboard]')"
        ) from exc
    return SummaryWriter(logdir=log_dir)


def _tag(layer: Layer, index: int) -> str:
    name = getattr(layer, "name", None)
    return name if name else f"{index}_{type(layer).__name__}"


class TensorBoard(Callback):
    """Log a training run for TensorBoard: scalars, histograms, filters and the network.

    What is written (tag: value, at which TensorBoard step):

    - ``batch/loss``, ``batch/acc``: the training step's loss (and accuracy); step: the
      trainer's global step (1 after the first batch).
    - ``batch/lr``, ``batch/images_per_s``: the step's learning rate and throughput
      (samples per second); global step.
    - ``epoch/<metric>``: every metric of the epoch's logs (``loss``, ``acc``,
      ``val_loss``, ``val_acc``, ``lr``, ``time``) and ``epoch/images_per_s``; step: the
      number of completed epochs.
    - ``weights/<layer>/<param>`` and ``gradients/<layer>/<param>``: histograms of each
      trainable parameter and of the loss gradient on ``grad_data``; epoch.
    - ``filters/<layer>``: the first convolution layer's filters as one image
      (:func:`convnet.visualize.filter_mosaic`); epoch.
    - ``graph/summary`` and ``graph/dot``: the layer table
      (:func:`convnet.layers.summary.summary`) and the graph in DOT, as text (TensorBoard's
      reader files them as ``<tag>/text_summary``); step 0.

    Epoch steps count completed epochs (1 after the first); histograms and filters are
    written every ``histogram_freq`` epochs and before the first one (step 0).

    Parameters
    ----------
    log_dir : str or path-like
        The folder for the event files (created if needed). A resumed run adds a new event
        file to the same folder; TensorBoard shows them as one run.
    histogram_freq : int
        Epochs between histograms and filter images (default 1; 0 switches them off).
    grad_data : (inputs, targets), optional
        A batch on which the loss gradient is computed for the gradient histograms (the
        network in deterministic mode: no dropout, batch-norm running statistics, so that
        logging draws no random numbers and changes no state). Without it, no gradient
        histograms are written.
    log_every_n_steps : int
        Write the per-step scalars every this many steps (default 1).
    filters : bool
        Write the first convolution layer's filters as images (default True).

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.training import TensorBoard
    >>> X, y = np.zeros((8, 1, 28, 28), "float32"), np.zeros(8, "int32")
    >>> tb = TensorBoard("runs/cnn", histogram_freq=2, grad_data=(X, y))
    >>> tb.histogram_freq, tb.log_dir
    (2, 'runs/cnn')

    ``trainer.fit(..., callbacks=[tb])`` then writes ``runs/cnn/events.out.tfevents.*``;
    ``tensorboard --logdir runs`` shows them.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike,
        histogram_freq: int = 1,
        grad_data: tuple[ArrayLike, ArrayLike] | None = None,
        log_every_n_steps: int = 1,
        filters: bool = True,
    ):
        histogram_freq = check_int(
            histogram_freq, caller="TensorBoard", argname="histogram_freq", minimum=0
        )
        log_every_n_steps = check_int(
            log_every_n_steps, caller="TensorBoard", argname="log_every_n_steps", minimum=1
        )
        if grad_data is not None and (not isinstance(grad_data, tuple) or len(grad_data) != 2):
            raise TypeError(
                f"TensorBoard: grad_data: expected a tuple (inputs, targets), received "
                f"{type(grad_data).__name__}"
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.grad_data = grad_data
        self.log_every_n_steps = log_every_n_steps
        self.filters = filters
        self.writer = None
        self._grad_fn = None
        self._t0 = 0.0
        self._epoch_n = 0
        self._epoch_seconds = 0.0

    # -- the run ---------------------------------------------------------------------

    def on_train_begin(self) -> None:
        from ..layers.summary import summary
        from ..visualize import network_to_dot

        self.writer = _summary_writer(self.log_dir, "TensorBoard")
        network = self.trainer.network
        # Indented four spaces: TensorBoard renders text as Markdown, this as preformatted.
        for tag, text in (
            ("graph/summary", summary(network)),
            ("graph/dot", network_to_dot(network)),
        ):
            self.writer.add_text(tag, "\n".join("    " + line for line in text.splitlines()), 0)
        if self.histogram_freq and self.trainer.epoch == 0:
            self._histograms(0)
        self.writer.flush()

    def on_epoch_begin(self, epoch: int) -> None:
        self._epoch_n = 0
        self._epoch_seconds = 0.0

    def on_batch_begin(self, batch: int) -> None:
        self._lr = self.trainer.learning_rate
        self._t0 = time.perf_counter()

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        seconds = max(time.perf_counter() - self._t0, 1e-9)
        size = int(logs.get("size", 0))
        self._epoch_n += size
        self._epoch_seconds += seconds
        step = self.trainer.global_step
        if step % self.log_every_n_steps:
            return
        for key in ("loss", "acc"):
            if key in logs:
                self.writer.add_scalar(f"batch/{key}", float(logs[key]), step)
        self.writer.add_scalar("batch/lr", self._lr, step)
        self.writer.add_scalar("batch/images_per_s", size / seconds, step)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        step = epoch + 1
        for key, value in logs.items():
            self.writer.add_scalar(f"epoch/{key}", float(value), step)
        if self._epoch_seconds > 0:
            self.writer.add_scalar("epoch/images_per_s", self._epoch_n / self._epoch_seconds, step)
        if self.histogram_freq and step % self.histogram_freq == 0:
            self._histograms(step)
        self.writer.flush()

    def on_train_end(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    # -- histograms and images ----------------------------------------------------------

    def _named_params(self) -> list[tuple[str, SharedVariable]]:
        from ..layers import get_all_layers

        trainable = {id(p) for p in self.trainer.trainable_params}
        named = []
        for index, layer in enumerate(get_all_layers(self.trainer.network)):
            for number, param in enumerate(layer.params):
                if id(param) in trainable:
                    # A named layer's parameters are named "<layer>.W": the tag is <layer>/W.
                    name = param.name or f"param{number}"
                    if layer.name and name.startswith(f"{layer.name}."):
                        name = name[len(layer.name) + 1 :]
                    named.append((f"{_tag(layer, index)}/{name}", param))
        return named

    def _gradients(self) -> list[np.ndarray]:
        if self._grad_fn is None:
            import pytensor

            from .. import backend
            from ..layers import get_output

            trainer = self.trainer
            prediction = get_output(trainer.network, deterministic=True)
            # The trainer's own loss (without regularization), so the histograms show the
            # gradient the data term contributes to each step.
            loss = trainer._loss_expr(prediction, trainer.target_var)[0]
            grads = pytensor.grad(loss, [p for _, p in self._named_params()])
            self._grad_fn = backend.function(
                [trainer.input_var, trainer.target_var], grads, mode=trainer.mode
            )
        X, y = self.grad_data
        X = np.asarray(X, dtype=self.trainer.input_var.dtype)
        y = np.asarray(y, dtype=self.trainer.target_var.dtype)
        return [np.asarray(g) for g in self._grad_fn(X, y)]

    def _histograms(self, step: int) -> None:
        named = self._named_params()
        for tag, param in named:
            self.writer.add_histogram(f"weights/{tag}", np.asarray(param.get_value()), step)
        if self.grad_data is not None:
            for (tag, _), grad in zip(named, self._gradients(), strict=True):
                self.writer.add_histogram(f"gradients/{tag}", grad, step)
        if self.filters:
            self._filter_image(step)

    def _filter_image(self, step: int) -> None:
        from ..layers import get_all_layers
        from ..visualize import filter_mosaic

        for index, layer in enumerate(get_all_layers(self.trainer.network)):
            W = getattr(layer, "W", None)
            if W is not None and getattr(W, "ndim", 0) == 4:
                mosaic = filter_mosaic(layer)
                image = np.round(mosaic * 255).astype(np.uint8)
                formats = "HWC" if image.ndim == 3 else "HW"
                tag = f"filters/{_tag(layer, index)}"
                self.writer.add_image(tag, image, step, dataformats=formats)
                return
