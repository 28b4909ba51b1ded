""" "Turn this into a test": a pytest function that keeps a fixed finding fixed.

The test runs the rewritten cell's code under `sqla_magic.budget`, with the limits the
rewrite achieved (its statement count and the most any one shape ran) and the finding's
rule as a failure.  The cell's code uses names from the notebook; each becomes an import
when its value can be imported by name (modules, and classes or functions defined in a
module), and otherwise a parameter of the test: a fixture the test suite provides
(`session`, `engine`, ...).
"""

from __future__ import annotations

import ast
import builtins
import importlib
import keyword
import re
import symtable
import textwrap
import types
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from sqla_magic.model import Finding, Report

MAGIC_LINE = re.compile(r"^\s*%%sqlprofile\b")


@dataclass(frozen=True)
class AchievedBudget:
    """The budget a run achieved, to hold later runs to."""

    max_statements: int
    max_per_shape: Optional[int]


def achieved(after: Report) -> AchievedBudget:
    """The budget `after` kept: its statements, and the most executions of one shape."""
    shapes = Counter(s.fingerprint for s in after.statements)
    return AchievedBudget(len(after.statements), max(shapes.values()) if shapes else None)


def cell_code(source: str) -> str:
    """The cell's Python, without the `%%sqlprofile` line."""
    lines = source.splitlines(keepends=True)
    if lines and MAGIC_LINE.match(lines[0]):
        lines = lines[1:]
    code = textwrap.dedent("".join(lines)).strip("\n") + "\n"
    try:
        ast.parse(code)
    except SyntaxError as problem:
        raise ValueError(f"the cell is not plain Python (line {problem.lineno}: {problem.msg})") from None
    return code


def free_names(code: str) -> list[str]:
    """Names the code reads but never binds, in order of first use (builtins left out)."""
    wrapped = "async def __cell__():\n" + textwrap.indent(code, "    ") + "    pass\n"
    table = symtable.symtable(wrapped, "<cell>", "exec").get_children()[0]
    names: dict[str, None] = {}
    for scope in _scopes(table):
        for symbol in scope.get_symbols():
            if symbol.is_referenced() and symbol.is_global() and not symbol.is_declared_global():
                names.setdefault(symbol.get_name())
    order = {node.id: node.lineno * 10_000 + node.col_offset for node in reversed(list(_names(code)))}
    return sorted((n for n in names if not hasattr(builtins, n)), key=lambda n: order.get(n, 0))


def _scopes(table: symtable.SymbolTable) -> Iterator[symtable.SymbolTable]:
    yield table
    for child in table.get_children():
        yield from _scopes(child)


def _names(code: str) -> Iterator[ast.Name]:
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            yield node


def import_line(name: str, value: Any) -> Optional[str]:
    """`import x as name` / `from m import q as name` if `value` can be imported by name."""
    if isinstance(value, types.ModuleType):
        full = value.__name__
        if full == name:
            return f"import {full}"
        if "." in full and full.rsplit(".", 1)[1] == name:
            return f"from {full.rsplit('.', 1)[0]} import {name}"
        return f"import {full} as {name}"
    module: Any = getattr(value, "__module__", None)
    qualname: Any = getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "." in qualname:
        return None
    if module in ("__main__", "builtins") or module.startswith("_"):
        return None
    try:
        if getattr(importlib.import_module(module), qualname, None) is not value:
            return None
    except Exception:  # an unimportable module: the name becomes a fixture
        return None
    return f"from {module} import {qualname}" + (f" as {name}" if name != qualname else "")


def default_test_name(finding: Finding) -> str:
    return "test_" + re.sub(r"\W+", "_", finding.rule).strip("_") + "_stays_fixed"


def pytest_source(
    finding: Finding,
    source: str,
    limits: AchievedBudget,
    namespace: Mapping[str, Any],
    name: Optional[str] = None,
) -> str:
    """A test module: imports, then one test that runs `source` (the fixed cell, its
    `%%sqlprofile` line dropped) under `limits`, failing also on `finding`'s rule."""
    imports, imported, code = _leading_imports(cell_code(source))
    name = name or default_test_name(finding)
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"{name!r} is not a Python name for the test")
    imports = ["from sqla_magic import budget", *imports]
    fixtures = []
    for free in free_names(code):
        if free in imported:
            continue
        line = import_line(free, namespace.get(free)) if free in namespace else None
        if line is None:
            fixtures.append(free)
        elif line not in imports:
            imports.append(line)
    limit_args = [f"max_statements={limits.max_statements}"]
    if limits.max_per_shape is not None:
        limit_args.append(f"max_per_shape={limits.max_per_shape}")
    limit_args.append(f"fail_on=({finding.rule!r},)")
    asynchronous = _awaits(code)  # then the suite needs an async test runner (anyio, pytest-asyncio)
    header = f"{'async ' if asynchronous else ''}def {name}({', '.join(fixtures)}):"
    shape = "" if limits.max_per_shape is None else f", at most {limits.max_per_shape} of one shape"
    title = finding.title.replace("\\", "/").replace('"', "'")
    doc = f'    """{title}: stays fixed ({limits.max_statements} statements{shape}, as the rewrite ran)."""'
    with_line = f"    with budget({', '.join(limit_args)}):"
    body = textwrap.indent(code, " " * 8)
    return (
        "\n".join([*sorted(imports, key=_import_order), "", "", header, doc, with_line, body.rstrip("\n")])
        + "\n"
    )


def _leading_imports(code: str) -> tuple[list[str], set[str], str]:
    """The cell's opening import statements, to go at the top of the test module, the names
    they bind, and the rest of the code."""
    tree = ast.parse(code)
    lines = code.splitlines(keepends=True)
    imports = []
    imported: set[str] = set()
    end = 0
    for node in tree.body:
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.end_lineno is None:
            break
        imports.append("".join(lines[node.lineno - 1 : node.end_lineno]).strip())
        imported.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        end = node.end_lineno
    return imports, imported, textwrap.dedent("".join(lines[end:])).strip("\n") + "\n"


def _awaits(code: str) -> bool:
    return any(
        isinstance(node, (ast.Await, ast.AsyncFor, ast.AsyncWith)) for node in ast.walk(ast.parse(code))
    )


def _import_order(line: str) -> tuple[int, str]:
    return (0 if line.startswith("import ") else 1, line.split()[1])


def finding_test_source(
    report: Report,
    number: int,
    after: Report,
    namespace: Mapping[str, Any],
    name: Optional[str] = None,
) -> str:
    """The test for finding `number` (from 1, as on its card) of `report`, fixed in `after`:
    `after`'s cell (what achieved the budget), or the finding's rewrite if `after` has none."""
    if after is report:
        raise ValueError(
            "the report of the fixed cell is the report with the finding: run the fixed cell first"
        )
    if not 1 <= number <= len(report.findings):
        raise ValueError(f"no finding #{number}: the report has {len(report.findings)}")
    finding = report.findings[number - 1]
    source = after.source or (finding.rewrite.rewritten if finding.rewrite is not None else "")
    if not source:
        raise ValueError(f"finding #{number} ({finding.rule}) has no cell code to test")
    return pytest_source(finding, source, achieved(after), namespace, name)
