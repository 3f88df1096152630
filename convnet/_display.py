"""Where output is shown: a terminal or a Jupyter kernel (shared by progress bars and plots)."""

from __future__ import annotations

import sys

__all__ = ["in_notebook"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (Notebook, JupyterLab, VS Code, Colab).

    There ``sys.stderr`` is not a terminal, yet progress bars are wanted: ``tqdm.auto``
    draws them as widgets (with ``ipywidgets``) or as text that the front end redraws.

    Examples
    --------
    >>> in_notebook()  # a doctest runs in no kernel
    False
    """
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def show_figures_inline() -> None:
    """In a Jupyter kernel, let a cell that returns a matplotlib figure show it as an image.

    convnet draws on plain (Agg) figures, not pyplot's, so that scripts and threads never
    open windows; IPython renders such a figure as an image only once its PNG formatter is
    registered, which ``%matplotlib inline`` does and this does too (outside a kernel it
    does nothing).
    """
    if not in_notebook():
        return
    from IPython.core.pylabtools import select_figure_formats

    shell = sys.modules["IPython"].get_ipython()
    select_figure_formats(shell, {"png"})
