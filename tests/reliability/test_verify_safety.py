"""Try it (`verify`) leaves the database, the user's own transaction and the files as they
were, counted before and after on SQLite, PostgreSQL and MariaDB: a cell that steps
outside the sandbox is stopped and rolled back, whatever code of the user's or of a
library (`DataFrame.to_sql`) takes it there."""

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


# -- a library that writes: DataFrame.to_sql ------------------------------------------------


def _tables(engine: sa.Engine, prefix: str) -> list[str]:
    with engine.connect() as conn:
        return sorted(name for name in sa.inspect(conn).get_table_names() if name.startswith(prefix))


def _server_or_file(database: str, request: pytest.FixtureRequest, tmp_path: Any) -> sa.Engine:
    if database == "sqlite-file":
        return sa.create_engine(f"sqlite:///{tmp_path / 'frames.db'}")
    return request.getfixturevalue({"postgresql": "pg_engine", "mariadb": "mariadb_engine"}[database])


@pytest.mark.skipif(sa.__version__.startswith("1."), reason="pandas' to_sql needs SQLAlchemy 2.0")
@pytest.mark.parametrize("database", ["sqlite-file", "postgresql", "mariadb"])
def test_to_sql_through_the_sessions_engine_or_connection_changes_nothing(
    database: str, request: pytest.FixtureRequest, tmp_path: Any, table_prefix: str
) -> None:
    pandas = pytest.importorskip("pandas")
    engine = _server_or_file(database, request, tmp_path)
    item = _item_table(engine, table_prefix)
    frame = pandas.DataFrame({"id": [100, 101, 102], "qty": [1, 2, 3]})
    existing, new = item.name, f"{table_prefix}frame"
    # cell -> what verify says: "" (verified) or what the reason names
    cells = {
        f"frame.to_sql({existing!r}, session.bind, if_exists='append', index=False)\n": "commits",
        f"frame.to_sql({new!r}, session.bind, index=False)\n": (
            "commits" if database != "mariadb" else "runs DDL"
        ),
        f"frame.to_sql({existing!r}, session.connection(), if_exists='append', index=False)\n": "",
        # DDL before any write: pysqlite would commit it at once, outside the transaction
        f"frame.to_sql({new!r}, session.connection(), index=False)\n": (
            "" if database != "mariadb" else "runs DDL"
        ),
    }
    session = Session(engine)
    files = sorted(p.name for p in tmp_path.iterdir())
    try:
        for cell, expected in cells.items():
            result = verify(finding(cell, cell), None, {"session": session, "frame": frame}, memory=False)
            if expected:
                assert not result.verified and expected in result.reason, (cell, result.reason)
                assert "stopped and rolled back" in result.reason
            else:
                assert result.verified, (cell, result.reason)
                assert (result.before.writes, result.after.writes) == (1, 1)  # type: ignore[union-attr]
            assert not session.in_transaction(), cell  # nothing of the run is left pending
            assert _rows(session, item) == (20, sum(range(1, 21))), cell
            session.rollback()
            assert _tables(engine, table_prefix) == [existing], cell
            assert sorted(p.name for p in tmp_path.iterdir()) == files, cell
        # with the user's own uncommitted write: the run gets a SAVEPOINT, the write stays theirs
        session.execute(item.update().where(item.c.id == 1).values(qty=999))
        cell = f"frame.to_sql({existing!r}, session.connection(), if_exists='append', index=False)\n"
        result = verify(finding(cell, cell), None, {"session": session, "frame": frame}, memory=False)
        assert result.verified, result.reason
        assert session.in_transaction()
        assert _rows(session, item) == (20, sum(range(2, 21)) + 999)
        session.rollback()
        assert _rows(session, item) == (20, sum(range(1, 21)))
    finally:
        session.close()
        item.metadata.drop_all(engine)
        if database == "sqlite-file":
            engine.dispose()
