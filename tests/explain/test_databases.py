"""EXPLAIN against real SQLite, PostgreSQL and MariaDB: warnings, safety, parameter styles."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

import sqla_magic
from sqla_magic.explain import explain_statement
from tests.explain.conftest import ROWS


def snapshot(engine: sa.Engine, table: sa.Table) -> tuple[int, str]:
    """Row count and a checksum of every row, read on a connection of its own."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.id)).all()
    digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
    return len(rows), digest


def test_seq_scan_warning_until_the_column_is_indexed(
    any_engine: sa.Engine, people: sa.Table, capture_driver_sql: Any
) -> None:
    query = sa.select(people).where(people.c.name == "n123")
    sql, params, _ = capture_driver_sql(any_engine, query)
    plan = explain_statement(any_engine, sql, params)
    seq = [w for w in plan.warnings if w.kind == "seq-scan"]
    assert seq, plan
    assert seq[0].table == people.name
    assert seq[0].columns == ("name",)
    if any_engine.dialect.name != "sqlite":
        assert seq[0].rows is not None and seq[0].rows >= ROWS * 0.9
    assert plan.root is not None and plan.raw

    index = sa.Index(f"ix_{people.name}_name", people.c.name)
    index.create(any_engine)
    if any_engine.dialect.name == "postgresql":
        with any_engine.begin() as conn:
            conn.exec_driver_sql(f"ANALYZE {people.name}")
    plan = explain_statement(any_engine, sql, params)
    assert not [w for w in plan.warnings if w.kind == "seq-scan"], plan
    assert any(n.index == index.name for n in plan.root.walk()) if plan.root else False


def test_profiled_writes_leave_exactly_what_the_code_left(any_engine: sa.Engine, people: sa.Table) -> None:
    """explain + explain_analyze around DELETE / UPDATE / INSERT: nothing more changes."""
    expected_engine = any_engine
    sequence_before = _sequence_value(any_engine, people)
    with sqla_magic.profile(explain=True, explain_analyze=True, memory=False, engine=any_engine) as report:
        with any_engine.begin() as conn:
            conn.execute(sa.delete(people).where(people.c.age == 3))
            conn.execute(sa.update(people).where(people.c.age == 4).values(note="changed"))
            conn.execute(
                sa.insert(people),
                [{"id": ROWS + i, "name": f"new{i}", "age": 99, "note": "new"} for i in range(1, 6)],
            )
            conn.execute(sa.select(people).where(people.c.age == 5)).all()
        after_code = snapshot(expected_engine, people)
    assert snapshot(expected_engine, people) == after_code
    count, _ = after_code
    assert count == ROWS - sum(1 for i in range(1, ROWS + 1) if i % 90 == 3) + 5
    if any_engine.dialect.name == "postgresql":
        assert _sequence_value(any_engine, people) == sequence_before

    kinds = {p.sql.split()[0].upper(): p for p in report.plans}
    assert {"DELETE", "UPDATE", "INSERT", "SELECT"} <= set(kinds), report.plans
    for word in ("DELETE", "UPDATE", "INSERT"):
        assert not kinds[word].analyzed
        assert kinds[word].note
    if any_engine.dialect.name != "sqlite":
        assert "changes data" in (kinds["DELETE"].note or "")
        assert kinds["SELECT"].analyzed, kinds["SELECT"]
        assert kinds["SELECT"].root is not None and any(
            n.actual_rows is not None for n in kinds["SELECT"].root.walk()
        )
    assert sqla_magic.Report.from_json(report.to_json()) == report


def _sequence_value(engine: sa.Engine, table: sa.Table) -> Any:
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT last_value FROM {table.name}_id_seq").scalar()


def test_user_transaction_holding_row_locks_is_left_intact(
    any_engine: sa.Engine, request: pytest.FixtureRequest
) -> None:
    if any_engine.dialect.name == "sqlite":
        pytest.skip("row locks: PostgreSQL and MariaDB")
    people: sa.Table = request.getfixturevalue("people")
    user = any_engine.connect()
    try:
        transaction = user.begin()
        user.execute(sa.update(people).where(people.c.id == 5).values(note="uncommitted"))
        user.execute(sa.select(people).where(people.c.id.in_([6, 7])).with_for_update()).all()
        started = time.monotonic()
        with sqla_magic.profile(
            explain=True, explain_analyze=True, memory=False, engine=any_engine
        ) as report:
            user.execute(sa.select(people).where(people.c.id.in_([5, 6])).with_for_update()).all()
            user.execute(sa.update(people).where(people.c.id == 6).values(note="also uncommitted"))
        assert time.monotonic() - started < 10
        assert len(report.plans) == 2 and all(p.root is not None for p in report.plans), report.plans
        assert user.in_transaction()
        notes = user.execute(sa.select(people.c.note).where(people.c.id.in_([5, 6])).order_by(people.c.id))
        assert notes.scalars().all() == ["uncommitted", "also uncommitted"]
        transaction.commit()
    finally:
        user.close()
    with any_engine.connect() as conn:
        notes = conn.execute(sa.select(people.c.note).where(people.c.id.in_([5, 6])).order_by(people.c.id))
        assert notes.scalars().all() == ["uncommitted", "also uncommitted"]


def test_table_lock_times_out_with_a_note(
    any_engine: sa.Engine, capture_driver_sql: Any, request: pytest.FixtureRequest
) -> None:
    """A plan that needs a lock the user holds gives up after the lock timeout."""
    name = any_engine.dialect.name
    if name == "sqlite":
        pytest.skip("SQLite plans need no table locks")
    people: sa.Table = request.getfixturevalue("people")
    sql, params, _ = capture_driver_sql(any_engine, sa.select(people).where(people.c.age == 1))
    user = any_engine.connect()
    transaction = user.begin() if name == "postgresql" else None
    try:
        if transaction is not None:
            user.exec_driver_sql(f"LOCK TABLE {people.name} IN ACCESS EXCLUSIVE MODE")
        else:
            user.exec_driver_sql(f"LOCK TABLES {people.name} WRITE")
        started = time.monotonic()
        plan = explain_statement(any_engine, sql, params, analyze=True)
        assert time.monotonic() - started < 10
        assert plan.root is None and plan.note and "failed" in plan.note, plan
    finally:
        if transaction is not None:
            transaction.rollback()
        else:
            user.exec_driver_sql("UNLOCK TABLES")
        user.close()


def test_executemany_is_explained_with_its_first_parameter_set(
    any_engine: sa.Engine, people: sa.Table, capture_driver_sql: Any
) -> None:
    rows = [{"id": ROWS + 10 + i, "name": f"m{i}", "age": 1, "note": "m"} for i in range(3)]
    before = snapshot(any_engine, people)
    sql, params, many = capture_driver_sql(any_engine, sa.insert(people), rows)
    plan = explain_statement(any_engine, sql, params, executemany=many, analyze=True)
    assert not plan.analyzed
    assert plan.note and "EXPLAIN failed" not in plan.note, plan
    assert snapshot(any_engine, people) == before


@pytest.mark.parametrize(
    ("engine_fixture", "paramstyle", "sql"),
    [
        ("sqlite_engine", "qmark", "SELECT * FROM {t} WHERE {t}.age = ? AND {t}.name = ?"),
        ("pg_engine", "pyformat", "SELECT * FROM {t} WHERE {t}.age = %(age)s AND {t}.name = %(name)s"),
        ("mariadb_engine", "format", "SELECT * FROM {t} WHERE {t}.age = %s AND {t}.name = %s"),
    ],
)
def test_parameter_styles(
    engine_fixture: str, paramstyle: str, sql: str, request: pytest.FixtureRequest
) -> None:
    engine: sa.Engine = request.getfixturevalue(engine_fixture)
    assert engine.dialect.paramstyle == paramstyle or (paramstyle, engine.dialect.paramstyle) == (
        "format",
        "pyformat",  # pymysql under SQLAlchemy 2.x; positional %s binds the same way
    )
    table = f"t_style_{threading.get_ident() % 10_000}_{int(time.time() * 1000) % 100_000}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(20), age INTEGER)")
    try:
        params: Any = {"age": 3, "name": "x"} if paramstyle == "pyformat" else (3, "x")
        plan = explain_statement(engine, sql.format(t=table), params, analyze=True)
        assert plan.root is not None, plan
        assert plan.analyzed == (engine.dialect.name != "sqlite")
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")


def test_no_seq_scan_warning_on_an_empty_or_tiny_table(
    any_engine: sa.Engine, table_prefix: str, capture_driver_sql: Any
) -> None:
    """A table never analyzed (PostgreSQL) or without estimates (SQLite) is counted up to
    the bound that matters: a full scan of a few rows is not worth an index."""
    table = sa.Table(
        f"{table_prefix}_tiny",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(40)),
    )
    table.create(any_engine)
    try:
        query = sa.select(table).where(table.c.name == "n3")
        for rows in (0, 5):
            if rows:
                with any_engine.begin() as conn:
                    conn.execute(sa.insert(table), [{"id": i, "name": f"n{i}"} for i in range(1, rows + 1)])
            sql, params, _ = capture_driver_sql(any_engine, query)
            plan = explain_statement(any_engine, sql, params)
            assert plan.root is not None, plan
            assert not [w for w in plan.warnings if w.kind == "seq-scan"], (rows, plan)
    finally:
        table.drop(any_engine)
