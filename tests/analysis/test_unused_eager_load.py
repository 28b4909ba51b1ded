"""unused-eager-load on hand-built reports and in a real shell: judged from the reads of
the relationship at run time, wherever the code that reads it is defined."""

from __future__ import annotations

from collections.abc import Callable

from IPython.core.interactiveshell import InteractiveShell

from sqla_magic.analysis.rules import unused_eager_load
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Report, Statement


def _statement(line: int, origin: str) -> Statement:
    return Statement(
        sql="SELECT 1",
        params=(),
        duration_s=0.002,
        rowcount=-1,
        executemany=False,
        fingerprint=origin,
        cache="cached",
        line=line,
        origin=origin,
        engine="sqlite://",
        thread="MainThread",
    )


SOURCE = """%%sqlprofile
from sqlalchemy.orm import selectinload  # loaders
names = [a.name for a in session.scalars(select(Author).options(selectinload(Author.books)))]
"""


UNREAD = {"Author.books": False, "Book.author": True}


def test_unused_selectin_is_found_and_dropped() -> None:
    report = Report(
        wall_s=0.01,
        cpu_s=0.01,
        source=SOURCE,
        statements=(_statement(3, "query"), _statement(3, "eager load Author.books")),
        relationship_reads=UNREAD,
    )
    (finding,) = unused_eager_load.rule(report, SOURCE, Thresholds())
    assert finding.rule == "unused-eager-load" and finding.lines == (3,) and finding.statements == (1,)
    assert "Author.books" in finding.title and "1 extra statement (" in finding.message
    assert finding.rewrite is not None
    rewritten = finding.rewrite.rewritten
    assert "session.scalars(select(Author))]" in rewritten and "# loaders" in rewritten
    compile(rewritten.split("\n", 1)[1], "<cell>", "exec")


def test_a_relationship_read_at_run_time_or_not_watched_is_not_flagged() -> None:
    statements = (_statement(3, "query"), _statement(3, "eager load Author.books"))
    for reads in ({"Author.books": True}, {"Book.author": False}, None):
        report = Report(
            wall_s=0.01, cpu_s=0.01, source=SOURCE, statements=statements, relationship_reads=reads
        )
        assert unused_eager_load.rule(report, SOURCE, Thresholds()) == [], reads


def test_option_on_a_line_that_never_ran_is_not_flagged() -> None:
    report = Report(
        wall_s=0.01,
        cpu_s=0.01,
        source=SOURCE,
        statements=(_statement(9, "query"),),
        relationship_reads=UNREAD,
    )
    assert unused_eager_load.rule(report, SOURCE, Thresholds()) == []


# -- a real shell: the reading code lives in another cell or a module -----------------------

SETUP = """
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqla_magic import demo
eager = demo.declare("uel_")
Author = eager.Author
engine = sa.create_engine("sqlite://")
demo.populate(engine, eager, authors=40, books_per_author=3, users=2, addresses_per_user=1)
sa.orm.configure_mappers()
session = Session(engine)
"""

OTHER_CELL = """
def serialize(rows):
    return [{"name": a.name, "books": [b.title for b in a.books]} for a in rows]
"""


def _rules(shell: InteractiveShell, cell: str) -> list[str]:
    shell.run_cell(f"%%sqlprofile -o rep --quiet --no-explain\n{cell}", store_history=False).raise_error()
    return [f.rule for f in shell.user_ns["rep"].findings]


def test_selectin_read_by_a_function_of_another_cell_is_kept(
    magic_shell: Callable[[str], InteractiveShell],
) -> None:
    shell = magic_shell(SETUP)
    shell.run_cell(OTHER_CELL, store_history=False).raise_error()
    used = "authors = session.scalars(select(Author).options(selectinload(Author.books))).all()\n"
    used += "payload = serialize(authors)\n"
    assert _rules(shell, used) == []
    shell.run_cell("session.close()", store_history=False)
    lazy = "authors = session.scalars(select(Author)).all()\npayload = serialize(authors)\n"
    assert _rules(shell, lazy) == ["n-plus-one"]  # the option the first cell has is the fix
    shell.run_cell("session.close()", store_history=False)
    unread = "authors = session.scalars(select(Author).options(selectinload(Author.books))).all()\n"
    unread += "names = [a.name for a in authors]\n"
    assert _rules(shell, unread) == ["unused-eager-load"]
    assert type(shell.user_ns["Author"].books).__name__ == "InstrumentedAttribute"
