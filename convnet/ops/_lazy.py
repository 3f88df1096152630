"""Running a registration when a module is first imported, without importing it earlier.

convnet's numba implementations must be registered with PyTensor's numba dispatcher, but
importing that dispatcher imports numba (about a second), which most programs (JAX, C) never
use. :func:`when_imported` defers the registration to the moment PyTensor loads its numba
backend: a one-shot import hook finds the module as Python would and runs the callback right
after the module's own code.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Callable

__all__ = ["when_imported"]


def when_imported(name: str, callback: Callable[[], object]) -> None:
    """Call ``callback()`` once module ``name`` is imported: now if it already is, else after.

    Parameters
    ----------
    name : str
        Full dotted name of the module.
    callback : callable
        Called without arguments right after the module has executed (its exceptions
        propagate to whoever imports the module).
    """
    if name in sys.modules:
        callback()
        return
    sys.meta_path.insert(0, _AfterImport(name, callback))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds ``name`` through the other finders and wraps its loader; then removes itself."""

    def __init__(self, name, callback):
        self.name = name
        self.callback = callback
        self._lock = threading.Lock()

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        with self._lock:
            if self not in sys.meta_path:
                return None
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _CallbackLoader(spec.loader, self.callback)
        return spec


class _CallbackLoader(importlib.abc.Loader):
    """Delegates to ``loader``; calls ``callback()`` after executing the module."""

    def __init__(self, loader, callback):
        self.loader = loader
        self.callback = callback

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.callback()

    def __getattr__(self, attr):  # get_code, get_resource_reader, is_package, ...
        return getattr(self.loader, attr)
