"""EXPLAIN (ANALYZE) and rewrite verification never change the user's data and never
commit or roll back the user's open transaction, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import sqla_magic
from sqla_magic.model import Finding, Rewrite
from sqla_magic.verify import verify
from tests.reliability.conftest import run

ROWS = 40


@pytest.fixture(params=["sqlite-memory", "sqlite-file", "postgresql", "mariadb"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """Every way EXPLAIN reaches a database: the shared in-memory SQLite connection, a
    private connection to a SQLite file, and private connections to the servers."""
    if request.param == "sqlite-file":
        created = sa.create_engine(f"sqlite:///{tmp_path / 'data.db'}")
        yield created
        created.dispose()
    else:
        name = {"sqlite-memory": "sqlite_engine", "postgresql": "pg_engine", "mariadb": "mariadb_engine"}
        yield request.getfixturevalue(name[request.param])


@pytest.fixture
def item(engine: sa.Engine, table_prefix: str) -> Iterator[sa.Table]:
    metadata = sa.MetaData()
    table = sa.Table(
        f"{table_prefix}item",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("qty", sa.Integer, nullable=False),
        sa.Column("note", sa.String(50), nullable=False),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "qty": i * 3, "note": f"n{i}"} for i in range(1, ROWS + 1)])
    yield table
    metadata.drop_all(engine)


@pytest.fixture
def session(engine: sa.Engine, item: sa.Table) -> Iterator[Session]:
    """The user's session, closed before the table is dropped (an open transaction would
    make DROP TABLE wait for its locks)."""
    user_session = Session(engine)
    yield user_session
    user_session.close()


def checksum(conn: Any, table: sa.Table) -> tuple[int, str]:
    rows = conn.execute(sa.select(table).order_by(table.c.id)).all()
    return len(rows), hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()


def committed(engine: sa.Engine, table: sa.Table) -> Optional[tuple[int, str]]:
    """The table as another connection sees it (None where no other connection can: the
    in-memory SQLite database exists only in the user's connection)."""
    if engine.url.database in (None, "", ":memory:"):
        return None
    with engine.connect() as conn:
        return checksum(conn, table)


def _user_change(session: Session, table: sa.Table) -> None:
    """An uncommitted change of the user's, made before profiling."""
    session.execute(table.update().where(table.c.id == 1).values(qty=999))


def _pending_change_is_intact(session: Session, table: sa.Table) -> None:
    assert session.in_transaction()
    assert session.execute(sa.select(table.c.qty).where(table.c.id == 1)).scalar() == 999


def test_explain_analyze_changes_nothing(engine: sa.Engine, item: sa.Table, session: Session) -> None:
    with engine.connect() as conn:
        original = checksum(conn, item)
    _user_change(session, item)
    write_cte = engine.dialect.name == "postgresql"
    with sqla_magic.profile(explain=True, explain_analyze=True, memory=False) as report:
        session.execute(sa.select(item).where(item.c.qty > 10)).all()
        session.execute(item.update().where(item.c.id.between(3, 10)).values(qty=item.c.qty + 1))
        session.execute(item.delete().where(item.c.id == ROWS))
        session.execute(item.insert().values(id=ROWS + 1, qty=0, note="new"))
        if write_cte:
            session.execute(
                sa.text(
                    f"WITH gone AS (DELETE FROM {item.name} WHERE id = 2 RETURNING id) SELECT * FROM gone"
                )
            ).all()
    assert len(report.plans) == len(report.statements) == 4 + write_cte
    plans = sorted(report.plans, key=lambda p: p.statement or 0)
    analyzed = [p.analyzed for p in plans]
    if engine.dialect.name != "sqlite":
        assert analyzed[0] is True
    assert not any(analyzed[1:]), "data-changing statements must never be executed by EXPLAIN"
    assert plans[0].root is not None
    assert not any("failed" in (p.note or "") for p in report.plans), [p.note for p in report.plans]
    assert committed(engine, item) in (None, original)
    _pending_change_is_intact(session, item)
    assert session.execute(sa.select(sa.func.count()).select_from(item)).scalar() == ROWS - write_cte
    session.rollback()
    assert checksum(session.connection(), item) == original


def test_explain_after_a_failed_statement_changes_nothing(
    engine: sa.Engine, item: sa.Table, session: Session
) -> None:
    with engine.connect() as conn:
        original = checksum(conn, item)
    with pytest.raises(sa.exc.IntegrityError), sqla_magic.profile(explain_analyze=True) as report:
        session.execute(item.update().where(item.c.id == 3).values(qty=0))
        session.execute(item.insert().values(id=1, qty=1, note="duplicate"))
    assert report.error is not None and report.error.type == "IntegrityError"
    assert committed(engine, item) in (None, original)
    session.rollback()
    assert checksum(session.connection(), item) == original


def _finding(original: str, rewritten: str) -> Finding:
    return Finding(
        rule="loop-update",
        severity="medium",
        title="t",
        message="m",
        rewrite=Rewrite(original=original, rewritten=rewritten),
    )


def test_verify_changes_nothing(engine: sa.Engine, item: sa.Table, session: Session) -> None:
    with engine.connect() as conn:
        original = checksum(conn, item)
    _user_change(session, item)
    namespace: dict[str, Any] = {"session": session, "sa": sa, "item": item}
    finding = _finding(
        "%%sqlprofile\n"
        "for i in range(1, 11):\n"
        "    session.execute(item.update().where(item.c.id == i).values(qty=0))\n"
        "session.execute(item.insert().values(id=1000, qty=1, note='x'))\n"
        "session.execute(sa.select(sa.func.sum(item.c.qty))).scalar()\n",
        "%%sqlprofile\n"
        "session.execute(item.update().where(item.c.id.between(1, 10)).values(qty=0))\n"
        "session.execute(item.delete().where(item.c.id > 30))\n"
        "session.execute(sa.select(sa.func.sum(item.c.qty))).scalar()\n",
    )
    result = verify(finding, None, namespace, memory=False)
    assert result.verified, result.reason
    assert result.before is not None and result.after is not None
    assert result.before.writes == 11 and result.after.writes == 2
    assert result.same_result is False  # the rewrite deleted rows the original kept
    assert committed(engine, item) in (None, original)
    _pending_change_is_intact(session, item)
    assert session.execute(sa.select(sa.func.count()).select_from(item)).scalar() == ROWS
    session.rollback()
    assert checksum(session.connection(), item) == original


def test_verify_of_a_fresh_session_leaves_no_transaction(
    engine: sa.Engine, item: sa.Table, session: Session
) -> None:
    with engine.connect() as conn:
        original = checksum(conn, item)
    finding = _finding(
        "session.execute(item.delete())\n",
        "session.execute(item.update().values(note='changed'))\n",
    )
    result = verify(finding, None, {"session": session, "item": item}, memory=False)
    assert result.verified, result.reason
    assert not session.in_transaction()
    assert committed(engine, item) in (None, original)
    assert checksum(session.connection(), item) == original


def test_verify_refuses_cells_that_commit(engine: sa.Engine, item: sa.Table, session: Session) -> None:
    _user_change(session, item)
    finding = _finding(
        "session.execute(item.delete())\nsession.commit()\n", "session.execute(item.delete())\n"
    )
    result = verify(finding, None, {"session": session, "item": item}, memory=False)
    assert not result.verified and "commits" in result.reason
    _pending_change_is_intact(session, item)
    session.rollback()


def test_magic_explain_analyze_keeps_the_pending_transaction(shell: Any) -> None:
    run(shell, "session.get(Author, 1).name = 'uncommitted'\nsession.flush()\n").raise_error()
    run(
        shell,
        "%%sqlprofile --quiet --explain-analyze -o rep\n"
        "names = session.scalars(sa.select(Author.name)).all()\n"
        "session.execute(sa.update(Author).where(Author.id == 2).values(name='also uncommitted'))\n",
    ).raise_error()
    assert len(shell.user_ns["rep"].plans) == 2
    assert "uncommitted" in shell.user_ns["names"]
    result = run(shell, "session.rollback()\nsorted(session.scalars(sa.select(Author.name)))\n")
    result.raise_error()
    assert result.result == [f"a{i}" for i in range(1, 7)]
