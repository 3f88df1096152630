"""examples/notebook.ipynb runs top to bottom in a Jupyter kernel; in a kernel, progress bars
are tqdm.auto's and returned figures show as images."""

from __future__ import annotations

import ast
import io
import sys
import types
from pathlib import Path

import pytest

from convnet._display import in_notebook, show_figures_inline
from convnet.training import ProgressBar

ROOT = Path(__file__).resolve().parents[2]


class ZMQInteractiveShell:
    """Named like the shell of a Jupyter kernel."""


@pytest.fixture
def fake_kernel(monkeypatch):
    ipython = types.ModuleType("IPython")
    shell = ZMQInteractiveShell()
    ipython.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    return shell


def test_progress_bar_is_on_in_a_kernel_and_off_elsewhere(fake_kernel, monkeypatch):
    assert in_notebook()
    assert ProgressBar().active  # stderr is no terminal in a kernel, yet the bar is wanted
    assert not ProgressBar(stream=io.StringIO()).active  # an explicit stream
    assert not ProgressBar(enabled=False).active
    monkeypatch.delitem(sys.modules, "ipykernel")
    assert not in_notebook()


def test_an_ipython_terminal_is_not_a_notebook(monkeypatch):
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: type("TerminalInteractiveShell", (), {})()
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert not in_notebook()
    show_figures_inline()  # does nothing outside a kernel


@pytest.mark.slow
def test_example_notebook_runs_in_a_kernel(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(ROOT / "examples" / "notebook.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells)  # stored without outputs
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on an error
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    kinds = [{key for out in cell.outputs for key in out.get("data", {})} for cell in code]
    # The training cell draws its progress bars as widgets (tqdm.auto with ipywidgets) ...
    assert "application/vnd.jupyter.widget-view+json" in kinds[1]
    # ... and the cells returning plot_history's and plot_filters' figures show images.
    assert "image/png" in kinds[2] and "image/png" in kinds[3]
    val_acc = ast.literal_eval(code[1].outputs[-1]["data"]["text/plain"])
    assert len(val_acc) == 2 and val_acc[-1] >= 0.9
