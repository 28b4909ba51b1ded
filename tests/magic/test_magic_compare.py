"""`%%sqlprofile --compare NAME` through a real IPython shell."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from sqla_magic.model import Comparison

SETUP = """
import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload
from sqla_magic import demo
engine = sa.create_engine("sqlite://")
models = demo.declare()
demo.populate(engine, models, authors=12, books_per_author=3)
models.Base.registry.configure()
session = Session(engine)
"""


@pytest.fixture
def shell(magic_shell: Callable[[str], InteractiveShell]) -> InteractiveShell:
    return magic_shell(SETUP)


def test_compare_with_a_stored_report(shell: InteractiveShell) -> None:
    shell.run_cell(
        "%%sqlprofile -o before --quiet --no-explain\n"
        "for author in session.scalars(sa.select(models.Author)):\n"
        "    len(author.books)\n"
    ).raise_error()
    shell.run_cell("session.expunge_all()").raise_error()
    with capture_output() as shown:
        shell.run_cell(
            "%%sqlprofile -o after --no-explain --compare before\n"
            "query = sa.select(models.Author).options(selectinload(models.Author.books))\n"
            "for author in session.scalars(query):\n"
            "    len(author.books)\n"
        ).raise_error()
    # One output: the report with its Compare section, in the HTML and in the text.
    (output,) = shown.outputs
    html = output.data["text/html"]
    assert "<h3>Comparison: before → this run</h3>" in html
    assert html.index("<h3>Comparison") < html.index("<h3>SQL statements")
    text = output.data["text/plain"]
    assert "sqla_magic comparison: before → this run" in text
    assert "statements" in text and "-11 (-85%), better" in text
    expected = shell.user_ns["before"].compare(shell.user_ns["after"], names=("before", "this run"))
    assert isinstance(expected, Comparison) and text.rstrip().endswith(expected.to_text().rstrip())


def test_compare_with_the_name_it_overwrites(shell: InteractiveShell) -> None:
    shell.run_cell("%%sqlprofile -o run --quiet --no-explain\nsession.get(models.Author, 1)\n").raise_error()
    first = shell.user_ns["run"]
    with capture_output() as shown:
        shell.run_cell(
            "%%sqlprofile -o run --no-explain --compare run\nsession.scalars(sa.select(models.Book)).all()\n"
        ).raise_error()
    assert shell.user_ns["run"] is not first
    plain = [
        output.data["text/plain"] for output in shown.outputs if "comparison" in output.data["text/plain"]
    ]
    assert plain and "statements" in plain[0]


def test_compare_with_no_such_report_is_a_usage_error(shell: InteractiveShell) -> None:
    with capture_output() as shown:
        result = shell.run_cell("%%sqlprofile --compare missing\nnever_assigned_here = 1\n")
    assert result.error_in_exec is not None
    assert "--compare missing: no report of that name" in shown.stderr + shown.stdout + str(
        result.error_in_exec
    )
    assert "never_assigned_here" not in shell.user_ns
