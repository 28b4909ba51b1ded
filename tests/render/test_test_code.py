"""The pytest source that "turn this into a test" writes: names, imports, budget."""

from __future__ import annotations

import ast
import os.path

import pytest
import sqlalchemy

from sqla_magic.model import Finding, Report, Rewrite
from sqla_magic.render.test_code import (
    AchievedBudget,
    cell_code,
    finding_test_source,
    free_names,
    import_line,
    pytest_source,
)

CELL = """%%sqlprofile -o after
from sqlalchemy.orm import selectinload
import json

query = sa.select(Author).options(selectinload(Author.books))
rows = [(a.name, len(a.books)) for a in session.scalars(query)]
path.join("a", json.dumps(rows))
"""


def test_free_names_are_what_the_cell_reads_but_never_binds() -> None:
    code = cell_code(CELL)
    assert not code.startswith("%%")
    assert free_names(code) == ["sa", "Author", "session", "path"]
    assert free_names("for x in items:\n    y = [x * k for k in ks]\nprint(y, await other())\n") == [
        "items",
        "ks",
        "other",
    ]


def test_cells_that_are_not_python_are_refused() -> None:
    with pytest.raises(ValueError, match="not plain Python"):
        cell_code("%%sqlprofile\n!ls\n")


def test_importable_values_become_imports() -> None:
    assert import_line("sa", sqlalchemy) == "import sqlalchemy as sa"
    assert import_line("sqlalchemy", sqlalchemy) == "import sqlalchemy"
    assert import_line("path", os.path) in ("from os import path", "import posixpath as path")
    assert import_line("select", sqlalchemy.select) == f"from {sqlalchemy.select.__module__} import select"
    assert import_line("Report", Report) == "from sqla_magic.model import Report"

    class Local:
        pass

    assert import_line("Local", Local) is None  # defined in a function: a fixture must give it
    assert import_line("session", object()) is None


def test_the_test_module() -> None:
    finding = Finding("n-plus-one", "medium", 'N+1 "lazy" loads', "…", rewrite=Rewrite("", CELL))
    source = pytest_source(
        finding, CELL, AchievedBudget(2, 1), {"sa": sqlalchemy, "Author": object(), "path": os.path}
    )
    tree = ast.parse(source)
    (test,) = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert test.name == "test_n_plus_one_stays_fixed"
    assert [arg.arg for arg in test.args.args] == ["Author", "session"]
    assert "with budget(max_statements=2, max_per_shape=1, fail_on=('n-plus-one',)):" in source
    path_import = import_line("path", os.path)
    plain = sorted(
        ["import json", "import sqlalchemy as sa", str(path_import)], key=lambda line: line.split()[1]
    )
    assert source.splitlines()[:5] == [
        *plain,
        "from sqla_magic import budget",
        "from sqlalchemy.orm import selectinload",
    ]
    assert "N+1 'lazy' loads: stays fixed (2 statements, at most 1 of one shape" in source
    assert pytest_source(finding, "await go()\n", AchievedBudget(1, None), {}, name="test_x").startswith(
        "from sqla_magic import budget\n\n\nasync def test_x(go):"
    )


def test_the_fixed_run_must_be_another_report() -> None:
    finding = Finding("n-plus-one", "medium", "N+1", "…", rewrite=Rewrite("", CELL))
    report = Report(wall_s=0, cpu_s=0, findings=(finding,))
    with pytest.raises(ValueError, match="run the fixed cell first"):
        finding_test_source(report, 1, report, {})
    with pytest.raises(ValueError, match="no finding #2"):
        finding_test_source(report, 2, Report(wall_s=0, cpu_s=0), {})
    with pytest.raises(ValueError, match="not a Python name"):
        finding_test_source(report, 1, Report(wall_s=0, cpu_s=0), {}, name="test x")
