"""`verify` leaves the database and the user's own transaction as they were."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import demo
from sqla_magic.model import Finding, Rewrite
from sqla_magic.verify import verify

ORIGINAL = """%%sqlprofile --quiet
for b in session.query(Book).filter(Book.author_id <= 10):
    b.pages += 1
session.add(Author(id=20_000, name="added by the cell"))
session.flush()
session.query(sa.func.sum(Book.pages)).scalar()
"""
REWRITTEN = """%%sqlprofile --quiet
session.query(Book).filter(Book.author_id <= 10).update({Book.pages: Book.pages + 1})
session.add(Author(id=20_000, name="added by the cell"))
session.flush()
session.query(sa.func.sum(Book.pages)).scalar()
"""


def finding(original: str = ORIGINAL, rewritten: str = REWRITTEN) -> Finding:
    return Finding("loop-update", "medium", "t", "m", rewrite=Rewrite(original, rewritten))


def checksum(engine: sa.Engine, models: demo.DemoModels) -> tuple[Any, ...]:
    with engine.connect() as conn:
        return (
            conn.scalar(sa.select(sa.func.count()).select_from(models.Author.__table__)),
            conn.scalar(sa.select(sa.func.sum(models.Book.__table__.c.pages))),
            conn.scalar(sa.select(sa.func.count()).select_from(models.Book.__table__)),
        )


def check_database(engine: sa.Engine, prefix: str) -> None:
    models = demo.declare(prefix)
    demo.populate(engine, models, authors=30, books_per_author=5)
    session = Session(engine)
    try:
        before = checksum(engine, models)
        pending = models.Author(id=10_000, name="pending, not committed")
        session.add(pending)
        namespace = {"session": session, "Book": models.Book, "Author": models.Author, "sa": sa}
        result = verify(finding(), None, namespace)
        assert result.verified, result.reason
        assert result.same_result
        assert result.before.executions > result.after.executions  # type: ignore[union-attr]
        # The outcome is a Comparison of the two runs' reports: the cell's statements,
        # not the SAVEPOINTs the sandbox wraps them in.
        comparison = result.comparison
        assert comparison is not None and comparison.names == ("original", "rewrite")
        statements = comparison.measure("statements")
        assert (statements.before, statements.after) == (
            result.before.statements,  # type: ignore[union-attr]
            result.after.statements,  # type: ignore[union-attr]
        )
        assert statements.verdict == "better"
        assert not any("SAVEPOINT" in s.sql.upper() for s in result.before_report.statements)  # type: ignore[union-attr]
        # the user's transaction still holds the pending author, nothing was committed
        assert pending in session
        session.flush()  # SQLAlchemy 1.4 does not autoflush before a Core-only count
        assert session.scalar(sa.select(sa.func.count()).where(models.Author.name == pending.name)) == 1
        assert (
            session.scalar(sa.select(sa.func.count()).where(models.Author.name == "added by the cell")) == 0
        )
        assert checksum(engine, models) == before
        session.commit()
        assert checksum(engine, models)[0] == before[0] + 1
    finally:
        session.close()
        models.metadata.drop_all(engine)


def test_sqlite_file_database_unchanged(tmp_path: Any, table_prefix: str) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'v.db'}")
    check_database(engine, table_prefix)
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_database_unchanged(pg_engine: sa.Engine, table_prefix: str) -> None:
    check_database(pg_engine, table_prefix)


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


# -- the run-time sandbox -----------------------------------------------------------------


def helper_that_commits(session: Session) -> None:
    session.commit()


def _item_table(engine: sa.Engine, prefix: str) -> sa.Table:
    metadata = sa.MetaData()
    table = sa.Table(
        f"{prefix}item",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("qty", sa.Integer, nullable=False),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "qty": i} for i in range(1, 21)])
    return table


def _rows(session: Session, table: sa.Table) -> tuple[int, int]:
    return (
        session.scalar(sa.select(sa.func.count()).select_from(table)) or 0,
        session.scalar(sa.select(sa.func.sum(table.c.qty))) or 0,
    )


@pytest.mark.parametrize("database", ["memory", "file"])
def test_a_closed_leftover_session_is_untouched(database: str, tmp_path: Any, table_prefix: str) -> None:
    url = "sqlite://" if database == "memory" else f"sqlite:///{tmp_path / 'left.db'}"
    engine = sa.create_engine(url)
    item = _item_table(engine, table_prefix)
    with Session(engine) as leftover:  # a setup cell's session, closed since
        leftover.execute(sa.select(item)).all()
    session = Session(engine)
    session.execute(item.update().where(item.c.id == 1).values(qty=999))  # pending, uncommitted
    namespace = {"s": leftover, "session": session, "item": item, "sa": sa}
    result = verify(
        finding(
            "for i in range(2, 8):\n    session.execute(item.update().where(item.c.id == i).values(qty=0))\n",
            "session.execute(item.update().where(item.c.id.between(2, 7)).values(qty=0))\n",
        ),
        None,
        namespace,
        memory=False,
    )
    assert result.verified, result.reason
    assert (result.before.writes, result.after.writes) == (6, 1)  # type: ignore[union-attr]
    assert not leftover.in_transaction() and leftover.get_bind() is engine
    assert session.scalar(sa.select(item.c.qty).where(item.c.id == 1)) == 999
    assert _rows(session, item) == (20, sum(range(2, 21)) + 999)
    session.rollback()
    assert _rows(session, item) == (20, sum(range(1, 21)))
    session.close()
    engine.dispose()


Cases = dict[str, tuple[str, str, dict[str, Any]]]


def _guarded_cases(engine: sa.Engine, item: sa.Table, tmp_path: Any) -> Cases:
    """name -> (cell, what the reason must say, extra namespace)."""
    autocommit = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT")
    written = tmp_path / "written.txt"
    # Second connections come first: on MariaDB the row locks of a rolled-back SAVEPOINT
    # stay with the user's transaction until it ends.
    cases: Cases = {
        "an engine connection commits": (
            "with engine.begin() as conn:\n    conn.execute(item.delete().where(item.c.id > 10))\n",
            "commits, at line 1 of the cell",
            {"engine": engine},
        ),
        "an AUTOCOMMIT engine": (
            "with Session(autocommit) as other:\n    other.execute(item.delete().where(item.c.id > 10))\n",
            "AUTOCOMMIT",
            {"autocommit": autocommit, "Session": Session},
        ),
        "a helper commits": (
            "session.execute(item.delete())\nhelper_that_commits(session)\n",
            f"commits, in `helper_that_commits` ({__file__}:",
            {"helper_that_commits": helper_that_commits},
        ),
        "COMMIT as text": (
            "session.execute(item.delete())\nsession.execute(sa.text('COMMIT'))\n",
            "sends `COMMIT`",
            {},
        ),
        "the commit is caught": (
            "try:\n    session.commit()\nexcept BaseException:\n    pass\nsession.execute(item.delete())\n",
            "commits, at line 2 of the cell",
            {},
        ),
        "a file is written": (
            f"session.execute(item.delete())\nopen({str(written)!r}, 'w').write('x')\n",
            "for writing, at line 2 of the cell",
            {},
        ),
    }
    if engine.dialect.name != "sqlite":
        cases["DDL"] = (
            f"session.execute(sa.text('CREATE TABLE {item.name}_new (id INTEGER)'))\n",
            "sends SQL" if engine.dialect.name == "postgresql" else "sends",
            {},
        )
    return cases


@pytest.mark.parametrize("database", ["sqlite-file", "postgresql", "mariadb"])
def test_the_sandbox_stops_what_it_cannot_roll_back(
    database: str, request: pytest.FixtureRequest, tmp_path: Any, table_prefix: str
) -> None:
    if database == "sqlite-file":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'guard.db'}")
    else:
        engine = request.getfixturevalue({"postgresql": "pg_engine", "mariadb": "mariadb_engine"}[database])
    item = _item_table(engine, table_prefix)
    session = Session(engine)
    try:
        session.execute(item.update().where(item.c.id == 1).values(qty=999))
        for name, (cell, reason, extra) in _guarded_cases(engine, item, tmp_path).items():
            if name == "DDL" and engine.dialect.name == "postgresql":
                continue  # PostgreSQL's DDL is transactional: it is rolled back like the rest
            if database == "sqlite-file" and name in ("an engine connection commits", "an AUTOCOMMIT engine"):
                continue  # the user's pending write locks the file against a second connection
            namespace = {"session": session, "item": item, "sa": sa, **extra}
            result = verify(finding(cell, "x = 1\n"), None, namespace, memory=False)
            assert not result.verified, name
            assert "stopped and rolled back" in result.reason, (name, result.reason)
            assert reason in result.reason, (name, result.reason)
            assert result.same_result is None and result.after is None
            assert session.in_transaction(), name
            assert _rows(session, item) == (20, sum(range(2, 21)) + 999), name
            assert not (tmp_path / "written.txt").exists()
            with engine.connect() as other:  # nothing was committed
                if engine.dialect.name != "sqlite":
                    assert other.scalar(sa.select(sa.func.count()).select_from(item)) == 20
        session.rollback()
        assert _rows(session, item) == (20, sum(range(1, 21)))
    finally:
        session.close()
        item.metadata.drop_all(engine)
        if database == "sqlite-file":
            engine.dispose()


def test_force_lets_a_cell_write_files_but_still_guards_the_database(
    tmp_path: Any, table_prefix: str
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'force.db'}")
    item = _item_table(engine, table_prefix)
    session = Session(engine)
    written = tmp_path / "out.txt"
    cell = f"session.execute(item.delete())\nopen({str(written)!r}, 'a').write('x')\n"
    refused = verify(finding(cell, cell), None, {"session": session, "item": item}, memory=False)
    assert "force=True" in refused.reason and not written.exists()
    forced = verify(finding(cell, cell), None, {"session": session, "item": item}, memory=False, force=True)
    assert forced.verified and written.read_text() == "xx"
    assert _rows(session, item) == (20, sum(range(1, 21)))
    session.close()
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
