"""The package's architecture, as ``docs/architecture.rst`` states it, checked on the source.

* the public API: every ``__all__`` of ``convnet.*`` is the one recorded in
  ``public_api.json`` (a change to the public API is a deliberate edit of that file);
* no import cycles, lazy imports included;
* each module imports only modules of its own level or below (:data:`LEVELS`);
* no private name crosses modules, except from modules named ``_*.py`` made for sharing;
* no module is longer than :data:`MAX_LINES` lines unless its docstring says why.
"""

from __future__ import annotations

import collections
import importlib
import json
import pkgutil
import re
from pathlib import Path

import pytest

import convnet

from .imports import cycles, imports, module_files

#: The levels of the package, lowest first (docs/architecture.rst explains each). A module
#: belongs to the level of the longest prefix that names it.
LEVELS = {
    # foundations: checks, errors, backend (and its patches to PyTensor), random streams,
    # tensor helpers, figures
    "convnet._errors": 0,
    "convnet._checks": 0,
    "convnet._types": 0,
    "convnet._hdf5": 0,
    "convnet._display": 0,
    "convnet._figures": 0,
    "convnet._tensor": 0,
    "convnet._random": 0,
    "convnet.utils": 0,
    "convnet.random": 0,
    "convnet.backend": 0,
    "convnet._pytensor_patches": 0,
    "convnet._malloc": 0,
    # operators and the mathematics of training
    "convnet.ops": 1,
    "convnet.theano_extensions": 1,
    "convnet.init": 1,
    "convnet.nonlinearities": 1,
    "convnet.objectives": 1,
    "convnet.updates": 1,
    # layers
    "convnet.layers": 2,
    # around the layers: models, files, data
    "convnet.models": 3,
    "convnet.regularization": 3,
    "convnet.io": 3,
    "convnet.preprocessing": 3,
    "convnet.augmentation": 3,
    "convnet.datasets": 3,
    # views of networks and of training, the training loop
    "convnet.visualize": 4,
    "convnet.training": 4,
    "convnet.transfer": 4,
    # understanding tools
    "convnet.interpret": 5,
    "convnet.ensemble": 5,
    "convnet.search": 5,
    # the bundled examples: users of the package (``import convnet``), above its facade
    "convnet.examples": 8,
}

#: The facade, ``convnet/__init__.py``, imports from every level below the examples.
FACADE_LEVEL = 7

#: Longer modules must say in their docstring why they are one module (this phrase).
MAX_LINES = 800
LONG_MODULE_PHRASE = "one module because"

#: Work in progress of issue 12: modules that still break a rule. Empty when it is done.
PENDING_PRIVATE: set[str] = set()
PENDING_LONG: set[str] = set()
# (importer, imported) still to remove
PENDING_EDGES: set[tuple[str, str]] = set()

API_FILE = Path(__file__).with_name("public_api.json")


def level(module: str) -> int:
    if module == "convnet":
        return FACADE_LEVEL
    best = max((p for p in LEVELS if module == p or module.startswith(p + ".")), key=len)
    return LEVELS[best]


def public_api() -> dict[str, list[str]]:
    api = {}
    for info in pkgutil.walk_packages(convnet.__path__, "convnet."):
        if info.name.rsplit(".", 1)[-1].startswith("_") or info.name.startswith("convnet.examples"):
            continue
        module = importlib.import_module(info.name)
        if hasattr(module, "__all__"):
            api[info.name] = sorted(module.__all__)
    api["convnet"] = sorted(convnet.__all__)
    return dict(sorted(api.items()))


def test_the_public_api_is_the_recorded_one():
    recorded = json.loads(API_FILE.read_text())
    current = public_api()
    changes = []
    for name in sorted(set(recorded) | set(current)):
        gone = sorted(set(recorded.get(name, [])) - set(current.get(name, [])))
        new = sorted(set(current.get(name, [])) - set(recorded.get(name, [])))
        if name not in current:
            changes.append(f"{name}: module gone")
        elif name not in recorded:
            changes.append(f"{name}: new module with {current[name]}")
        elif gone or new:
            changes.append(f"{name}: removed {gone}, added {new}")
    assert not changes, "public API changed (edit public_api.json if deliberate):\n" + "\n".join(
        changes
    )


def test_the_architecture_page_lists_the_levels():
    page = (Path(__file__).resolve().parents[2] / "docs" / "architecture.rst").read_text()
    rows = re.findall(r"\n   \* - (\d+)\n     - ``([\w.]+)``\n", page)
    documented = {module: int(lvl) for lvl, module in rows}
    expected = dict(LEVELS, convnet=FACADE_LEVEL)
    assert documented == expected


def test_every_module_has_a_level():
    missing = [
        m
        for m in module_files()
        if m != "convnet" and not any(m == p or m.startswith(p + ".") for p in LEVELS)
    ]
    assert not missing, f"add these modules to LEVELS and to docs/architecture.rst: {missing}"


def test_no_import_cycles():
    edges = collections.defaultdict(set)
    for imp in imports():
        if (imp.module, imp.target) not in PENDING_EDGES:
            edges[imp.module].add(imp.target)
    assert cycles(edges) == []


def test_pending_edges_are_still_there():
    present = {(i.module, i.target) for i in imports()}
    assert not PENDING_EDGES - present, f"remove from PENDING_EDGES: {PENDING_EDGES - present}"


def test_modules_import_only_their_level_or_below():
    upward = [
        f"{i.module} (level {level(i.module)}) imports {i.target} (level {level(i.target)}), "
        f"line {i.line}"
        for i in imports()
        if level(i.target) > level(i.module) and (i.module, i.target) not in PENDING_EDGES
    ]
    assert not upward, "\n".join(upward)


def test_private_names_are_shared_only_through_private_modules():
    crossing = collections.defaultdict(list)
    for imp in imports():
        if imp.target.rsplit(".", 1)[-1].startswith("_"):
            continue  # a module made for sharing
        private = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
        if private:
            crossing[imp.module].append(f"{imp.target}: {', '.join(private)} (line {imp.line})")
    fixed = sorted(PENDING_PRIVATE - set(crossing))
    assert not fixed, f"remove from PENDING_PRIVATE: {fixed}"
    bad = {m: v for m, v in crossing.items() if m not in PENDING_PRIVATE}
    assert not bad, "\n".join(f"{m}: {v}" for m, v in sorted(bad.items()))


def test_long_modules_say_why():
    long = {}
    for module, path in module_files().items():
        text = path.read_text(encoding="utf-8")
        n = text.count("\n")
        if n > MAX_LINES:
            doc = ast_docstring(text)
            if LONG_MODULE_PHRASE not in " ".join(doc.split()):
                long[module] = n
    fixed = sorted(PENDING_LONG - set(long))
    assert not fixed, f"remove from PENDING_LONG: {fixed}"
    bad = {m: n for m, n in long.items() if m not in PENDING_LONG}
    assert not bad, (
        f"modules over {MAX_LINES} lines without '{LONG_MODULE_PHRASE} ...' in their "
        f"docstring: {bad}"
    )


def ast_docstring(text: str) -> str:
    import ast

    return ast.get_docstring(ast.parse(text)) or ""


@pytest.mark.parametrize("rule", ["cycles", "private"])
def test_the_checks_can_fail(rule, tmp_path, monkeypatch):
    # the same checks on a two-module package that breaks the rule
    from . import imports as mod

    pkg = tmp_path / "convnet"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    if rule == "cycles":
        (pkg / "a.py").write_text("def f():\n    from . import b\n")
        (pkg / "b.py").write_text("from .a import f\n")
    else:
        (pkg / "a.py").write_text("_secret = 1\n")
        (pkg / "b.py").write_text("from .a import _secret\n")
    monkeypatch.setattr(mod, "ROOT", pkg)
    found = mod.imports()
    if rule == "cycles":
        edges = collections.defaultdict(set)
        for imp in found:
            edges[imp.module].add(imp.target)
        assert mod.cycles(edges) == [["convnet.a", "convnet.b"]]
    else:
        assert [(i.module, i.target, i.names) for i in found] == [
            ("convnet.b", "convnet.a", ("_secret",))
        ]
