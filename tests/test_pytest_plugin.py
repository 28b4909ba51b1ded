"""The pytest plugin, run on a small project with a passing and a failing budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PG_URL
from tests.inner_pytest import run_pytest, write

CONFTEST = """
import os

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import demo


@pytest.fixture
def library():
    engine = sa.create_engine(os.environ["LIBRARY_URL"])
    models = demo.declare(os.environ["LIBRARY_PREFIX"])
    demo.populate(engine, models, authors=12, books_per_author=2)
    models.Base.registry.configure()
    with Session(engine) as session:
        yield session, models
    models.metadata.drop_all(engine)
    engine.dispose()
"""

TESTS = """
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import selectinload


@pytest.mark.sqlprofile(max_statements=2, fail_on=["n-plus-one"])
def test_eager_loading_keeps_the_budget(library):
    session, models = library
    query = sa.select(models.Author).options(selectinload(models.Author.books))
    assert sum(len(a.books) for a in session.scalars(query)) == 24


@pytest.mark.sqlprofile(max_statements=5, fail_on=["n-plus-one"])
def test_lazy_loading_goes_over(library):
    session, models = library
    assert sum(len(a.books) for a in session.scalars(sa.select(models.Author))) == 24


def test_unmarked(library):
    session, models = library
    session.get(models.Author, 1)
"""

FIXTURE_TEST = """
import pytest
import sqlalchemy as sa

from sqla_magic import Report

seen = []


@pytest.fixture
def after_the_body(sqlprofile):
    yield
    seen.append(len(sqlprofile.statements))
    assert seen == [3], seen


def test_fixture_holds_the_body_only(library, after_the_body, sqlprofile):
    session, models = library
    assert isinstance(sqlprofile, Report)
    for book_id in (1, 2, 3):
        session.get(models.Book, book_id)
"""


@pytest.fixture
def sqlite_library(tmp_path: Path, table_prefix: str, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/library.db"
    monkeypatch.setenv("LIBRARY_URL", url)
    monkeypatch.setenv("LIBRARY_PREFIX", table_prefix)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def library_url(
    request: pytest.FixtureRequest, tmp_path: Path, table_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    if request.param == "postgresql":
        request.getfixturevalue("pg_engine")
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path}/library.db"
    monkeypatch.setenv("LIBRARY_URL", url)
    monkeypatch.setenv("LIBRARY_PREFIX", table_prefix)
    return url


def test_a_passing_and_a_failing_budget(tmp_path: Path, library_url: str) -> None:
    write(tmp_path, conftest=CONFTEST, test_books=TESTS)
    reports = tmp_path / "reports"
    result = run_pytest(tmp_path, "-p", "sqla_magic", f"--sqlprofile-report={reports}")
    assert result.outcomes == {"passed": 2, "failed": 1}, result.output
    result.lines.fnmatch_lines(
        [
            "*statement budget exceeded:",
            "  - 13 statements (budget: 5); the most run shape:",
            "      SELECT *book.id*",
            "      lazy load Author.books, at *test_books.py:16 in test_lazy_loading_goes_over*",
            "  - n-plus-one: N+1 lazy loads of Author.books",
        ]
    )
    assert "pytest_plugin.py" not in result.output  # no traceback through the plugin
    result.lines.fnmatch_lines(
        [
            "*= sqlprofile =*",
            "test_books.py::test_eager_loading_keeps_the_budget: 2 statements, 2 shapes",
            "test_books.py::test_lazy_loading_goes_over: 13 statements, 2 shapes (over budget)",
            "    [[]*[]] n-plus-one: N+1 lazy loads of Author.books",
            f"reports of failing tests: {reports}",
        ]
    )
    assert "test_unmarked" not in result.output.split("= sqlprofile =")[1]
    pages = sorted(p.name for p in reports.iterdir())
    assert pages == ["test_books.py_test_lazy_loading_goes_over.html"]
    page = (reports / pages[0]).read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "N+1 lazy loads of Author.books" in page


def test_sqlprofile_option_profiles_every_test(tmp_path: Path, sqlite_library: str) -> None:
    write(tmp_path, conftest=CONFTEST, test_books=TESTS)
    result = run_pytest(tmp_path, "-p", "sqla_magic", "--sqlprofile", "-k", "unmarked or eager")
    assert result.outcomes == {"passed": 2, "deselected": 1}, result.output
    result.lines.fnmatch_lines(["test_books.py::test_unmarked: 1 statements, 1 shapes"])


def test_the_fixture_is_the_test_s_report(tmp_path: Path, sqlite_library: str) -> None:
    write(tmp_path, conftest=CONFTEST, test_fixture=FIXTURE_TEST)
    result = run_pytest(tmp_path, "-p", "sqla_magic")
    assert result.outcomes == {"passed": 1}, result.output
    result.lines.fnmatch_lines(["test_fixture.py::test_fixture_holds_the_body_only: 3 statements, 1 shapes"])


def test_marker_takes_keywords_only(tmp_path: Path) -> None:
    write(tmp_path, test_marker="import pytest\n@pytest.mark.sqlprofile(5)\ndef test_x():\n    pass\n")
    result = run_pytest(tmp_path, "-p", "sqla_magic")
    assert result.returncode != 0
    assert "takes keyword arguments only" in result.output


def test_without_the_plugin_nothing_changes(tmp_path: Path) -> None:
    write(
        tmp_path,
        # Installed, the entry point loads the plugin; it stays inactive until asked for.
        test_plain="def test_x():\n    assert sum(range(3)) == 3\n",
    )
    result = run_pytest(tmp_path)
    assert result.outcomes == {"passed": 1}, result.output
    assert "sqlprofile" not in result.output
