"""`verify` refuses what it cannot check, and says why (the sandbox's safety cases are in
`tests/reliability/test_verify_safety.py`)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import demo
from sqla_magic.model import Finding, Rewrite
from sqla_magic.verify import verify


def finding(original: str, rewritten: str) -> Finding:
    return Finding("loop-update", "medium", "t", "m", rewrite=Rewrite(original, rewritten))


def test_refuses_what_cannot_be_rolled_back(sqlite_engine: sa.Engine) -> None:
    session = Session(sqlite_engine)
    namespace = {"session": session, "engine": sqlite_engine}
    commits = finding("x = 1\nsession.commit()\n", "x = 1\n")
    result = verify(commits, None, namespace)
    assert not result.verified and "commits, at line 2 of the cell" in result.reason
    assert result.same_result is None
    assert verify(finding("x = 1\n", "x = 2\n"), None, {}).verified  # no database at all
    no_rewrite = Finding("seq-scan", "low", "t", "m")
    assert not verify(no_rewrite, None, namespace).verified


# -- the outcome: a Comparison of the two runs --------------------------------------------------

LOOP = """%%sqlprofile --quiet
for b in session.query(Book).filter(Book.author_id <= 10):
    b.pages += 1
session.flush()
session.query(sa.func.sum(Book.pages)).scalar()
"""
ONE_UPDATE = """%%sqlprofile --quiet
session.query(Book).filter(Book.author_id <= 10).update({Book.pages: Book.pages + 1})
session.query(sa.func.sum(Book.pages)).scalar()
"""


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_comparison_counts_the_cells_statements_only(
    database: str, tmp_path: Any, table_prefix: str, request: pytest.FixtureRequest
) -> None:
    """The user's pending work (flushed before the sandbox's SAVEPOINT) and the SAVEPOINTs
    are the sandbox's statements, not the cell's: the comparison leaves them out."""
    engine = (
        sa.create_engine(f"sqlite:///{tmp_path / 'c.db'}")
        if database == "sqlite"
        else request.getfixturevalue("pg_engine")
    )
    models = demo.declare(table_prefix)
    demo.populate(engine, models, authors=30, books_per_author=5)
    session = Session(engine)
    try:
        session.add(models.Author(id=10_000, name="pending, not committed"))
        namespace = {"session": session, "Book": models.Book, "sa": sa}
        result = verify(finding(LOOP, ONE_UPDATE), None, namespace)
        assert result.verified and result.same_result, result.reason
        comparison = result.comparison
        assert comparison is not None and comparison.names == ("original", "rewrite")
        statements = comparison.measure("statements")
        assert (statements.before, statements.after) == (
            result.before.statements,  # type: ignore[union-attr]
            result.after.statements,  # type: ignore[union-attr]
        )
        # SQLAlchemy 1.4 autoflushes the user's pending work before `do_orm_execute`, inside
        # the cell's first statement: there the pending row's INSERT is one of the cell's.
        pending_in_cell = sa.__version__.startswith("1.")
        assert statements.verdict == "better" and statements.after == 2 + pending_in_cell
        for report in (result.before_report, result.after_report):
            assert report is not None and report.statements
            assert not any("SAVEPOINT" in s.sql.upper() for s in report.statements)
            assert pending_in_cell or not any("pending" in str(s.params) for s in report.statements)
        assert not comparison.fixed  # no rules were handed in: no findings on either side
    finally:
        session.close()
        models.metadata.drop_all(engine)
        if database == "sqlite":
            engine.dispose()


def test_the_comparison_says_which_findings_the_rewrite_fixed(
    sqlite_engine: sa.Engine, table_prefix: str
) -> None:
    """With the pipeline's rules handed in (as the magic does), both runs get findings."""
    from sqla_magic.pipeline import Options, finish

    models = demo.declare(table_prefix)
    demo.populate(sqlite_engine, models, authors=40, books_per_author=3)
    original = "%%sqlprofile\nsum(len(a.books) for a in session.scalars(sa.select(Author)))\n"
    rewritten = (
        "%%sqlprofile\n"
        "sum(len(a.books) for a in session.scalars(sa.select(Author).options(selectinload(Author.books))))\n"
    )
    namespace = {"session": Session(sqlite_engine), "Author": models.Author, "sa": sa}
    namespace["selectinload"] = sa.orm.selectinload
    try:
        result = verify(
            finding(original, rewritten),
            None,
            namespace,
            analyse=lambda run: finish(run, Options(explain=False)),
        )
        assert result.verified and result.same_result, result.reason
        comparison = result.comparison
        assert comparison is not None
        assert (comparison.measure("statements").before, comparison.measure("statements").after) == (41, 2)
        assert [f.rule for f in comparison.fixed] == ["n-plus-one"] and not comparison.new
    finally:
        namespace["session"].close()
        models.metadata.drop_all(sqlite_engine)
