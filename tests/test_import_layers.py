"""The package's layers, read from its source: every import goes downwards.

magic → pipeline, verify → capture | analysis | explain | render → sqltext | _compat |
privacy → model.  Siblings do not import each other.  Imports inside functions and under
`TYPE_CHECKING` count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

import sqla_magic

PACKAGE = Path(sqla_magic.__file__).parent

LAYERS: dict[str, int] = {
    "model": 0,
    "sqltext": 1,
    "_compat": 1,
    "privacy": 1,
    "capture": 2,
    "analysis": 2,
    "explain": 2,
    "render": 2,
    "pipeline": 3,
    "verify": 3,
    "budgets": 4,  # guards for scripts and tests, on top of the pipeline
    "magic": 4,
    "pytest_plugin": 5,
    "demo": 5,  # example models and data for the notebooks and tests
    "": 6,  # the facade, sqla_magic/__init__.py
    "__main__": 7,  # the command line
}
"""Each part's height; a part imports only parts lower than itself (and itself)."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every module `path` imports, with its line."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    return _imports_in(path.read_text(encoding="utf-8"), package)


def _imports_in(source: str, package: str) -> Iterator[tuple[str, int]]:
    """Every module `source`, a module of `package`, imports, with its line."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:  # `from sqla_magic import render` imports a module
                submodule = f"{module}.{alias.name}"
                yield (submodule if _is_module(submodule) else module), node.lineno
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                yield argument.value, node.lineno


def _is_dynamic_import(node: ast.Call) -> bool:
    function = node.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    return name in ("import_module", "__import__") and bool(node.args)


def _part(module: str) -> str:
    """`sqla_magic.capture.run` → `capture`; the facade is `""`."""
    return module.split(".")[1] if module.count(".") else ""


def _is_module(module: str) -> bool:
    if module != "sqla_magic" and not module.startswith("sqla_magic."):
        return False
    relative = module.split(".")[1:]
    target = PACKAGE.joinpath(*relative)
    return target.with_suffix(".py").exists() or (target / "__init__.py").exists()


def _against_layers(importer: str, imported: str) -> bool:
    mine, theirs = _part(importer), _part(imported)
    return theirs != mine and LAYERS[theirs] >= LAYERS[mine]


def _violations() -> Iterator[str]:
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _module_name(path)
        mine = _part(importer)
        assert mine in LAYERS, f"{importer}: add its part {mine!r} to LAYERS"
        for imported, line in _imports(path):
            if imported != "sqla_magic" and not imported.startswith("sqla_magic."):
                continue
            if _against_layers(importer, imported):
                mine, theirs = _part(importer), _part(imported)
                where = f"{path.relative_to(PACKAGE.parent)}:{line}"
                yield f"{where}: {importer} ({mine or 'facade'}) imports {imported} ({theirs or 'facade'})"


def test_every_import_goes_down_the_layers() -> None:
    assert list(_violations()) == []


@pytest.mark.parametrize(
    "source",
    [
        "def later():\n    import sqla_magic.render.text\n",
        "def later():\n    from .. import render\n",
        "if TYPE_CHECKING:\n    from ..render.text import render_text\n",
        "def later():\n    importlib.import_module('sqla_magic.render.text')\n",
    ],
)
def test_the_reader_sees_imports_inside_functions(source: str) -> None:
    imported = {name for name, _line in _imports_in(source, "sqla_magic.capture")}
    assert imported & {"sqla_magic.render", "sqla_magic.render.text"}


@pytest.mark.parametrize(
    ("importer", "imported", "against"),
    [
        ("sqla_magic.model", "sqla_magic.render.text", True),  # upwards
        ("sqla_magic.render.html", "sqla_magic.analysis", True),  # a sibling
        ("sqla_magic.capture.run", "sqla_magic.pipeline", True),
        ("sqla_magic.privacy", "sqla_magic.sqltext", True),
        ("sqla_magic.pipeline", "sqla_magic.capture.run", False),
        ("sqla_magic.render.html", "sqla_magic.render.summary", False),  # within a part
        ("sqla_magic.magic.display", "sqla_magic.render.widget", False),
    ],
)
def test_upward_and_sibling_imports_are_refused(importer: str, imported: str, against: bool) -> None:
    assert _against_layers(importer, imported) is against


_INTERNALS_WITHOUT_UNDERSCORE = frozenset(
    {"parent_listeners", "execute_style", "cache_hit", "invoked_statement"}
)
"""Internal SQLAlchemy attributes whose names do not say so (the statement listeners read them)."""

_DOCUMENTED_PRIVATE = frozenset({"_getframe"})
"""Underscored names that are documented API of the standard library (`sys._getframe`)."""


def _package_names(trees: Iterable[ast.AST]) -> set[str]:
    """Every name the package defines or binds itself: attributes it sets, slots, functions,
    classes, variables and arguments."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__slots__" for target in node.targets
            ):
                names.update(c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant))
    return names


def _outside_uses(tree: ast.AST, ours: set[str]) -> Iterator[tuple[int, str]]:
    """Where `tree` reaches into SQLAlchemy's internals: a private name imported from it, a
    private attribute the package does not define read off another object (or named as a
    string to `getattr`/`hasattr`/`setattr`), an internal attribute without an underscore."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            parts = [*(node.module or "").split("."), *(alias.name for alias in node.names)]
            if any(part.startswith("_") for part in parts):
                yield node.lineno, f"from {node.module} import {', '.join(a.name for a in node.names)}"
            continue
        if isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if owner in ("self", "cls", "_compat"):
                continue
            name = node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            name = node.args[1].value
        else:
            continue
        private = name.startswith("_") and not name.startswith("__") and name not in _DOCUMENTED_PRIVATE
        if name in _INTERNALS_WITHOUT_UNDERSCORE or (private and name not in ours):
            yield node.lineno, name


def test_sqlalchemy_internals_are_named_only_in_compat() -> None:
    """SQLAlchemy's private API (with the versions it was checked on) is read in `_compat`
    alone: elsewhere the package goes through `_compat`'s helpers."""
    compat = PACKAGE / "_compat.py"
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(PACKAGE.rglob("*.py"))}
    ours = _package_names(tree for path, tree in trees.items() if path != compat)
    outside = [
        f"{path.relative_to(PACKAGE)}:{line} {what}"
        for path, tree in trees.items()
        if path != compat
        for line, what in _outside_uses(tree, ours)
    ]
    assert outside == []


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy.orm.mapperlib import _mapper_registries",
        "def f(mapper):\n    return mapper._props",
        "def f(context):\n    return context.cache_hit",
        "def f(engine):\n    return getattr(engine, '_compiled_cache', None)",
        "def f(listeners):\n    return listeners.parent_listeners",
    ],
)
def test_the_internals_check_sees_each_way_in(source: str) -> None:
    assert list(_outside_uses(ast.parse(source), set()))
