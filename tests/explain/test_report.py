"""`explain_report`: which statements get plans, async engines, the shared SQLite connection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

import sqla_magic
from sqla_magic.explain import explain_statement, statements_to_explain
from sqla_magic.model import Finding, Report, Statement
from tests.conftest import PG_URL, REQUIRE_SERVERS


def statement(sql: str, fingerprint: str, duration_s: float, error: str | None = None) -> Statement:
    return Statement(
        sql=sql,
        params=(),
        duration_s=duration_s,
        rowcount=0,
        executemany=False,
        fingerprint=fingerprint,
        cache="cached",
        line=None,
        origin="core",
        engine="sqlite://",
        thread="MainThread",
        error=error,
    )


def test_selection_slowest_groups_findings_and_extra() -> None:
    statements = (
        statement("SELECT a FROM t WHERE id = ?", "a", 0.1),  # 0: group a, total 0.3
        statement("SELECT a FROM t WHERE id = ?", "a", 0.2),  # 1: slowest of a
        statement("SELECT b FROM t", "b", 0.25),  # 2: group b
        statement("SELECT c FROM t", "c", 0.01),  # 3: group c, pointed at by a finding
        statement("SELECT d FROM t", "d", 5.0, error="OperationalError: boom"),  # 4: failed
        statement("CREATE TABLE x (a INT)", "e", 9.0),  # 5: DDL never ranks
        statement("SELECT f FROM t", "f", 0.001),  # 6: only asked for
    )
    finding = Finding(rule="n-plus-one", severity="high", title="t", message="m", statements=(3, 0, 4))
    report = Report(wall_s=1, cpu_s=1, statements=statements, findings=(finding,))
    assert statements_to_explain(report, top=2) == [1, 2, 3]
    assert statements_to_explain(report, top=1, extra=(6, 1)) == [1, 3, 6]
    assert statements_to_explain(report, top=0) == [3, 0]  # one per fingerprint, failed ones left out


def test_in_memory_sqlite_shares_the_users_open_transaction(sqlite_engine: sa.Engine) -> None:
    """EXPLAIN goes through the one shared connection without committing or rolling back."""
    with sqlite_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)")
    user = sqlite_engine.connect()
    transaction = user.begin()
    user.exec_driver_sql("INSERT INTO items (label) VALUES ('uncommitted')")
    # Enough rows that a full scan is worth an index (a tiny table's is not flagged).
    user.exec_driver_sql(
        "INSERT INTO items (label) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
        "WHERE i < 1500) SELECT 'bulk' FROM n"
    )
    with sqla_magic.profile(explain=True, memory=False, engine=sqlite_engine) as report:
        user.execute(sa.text("SELECT * FROM items WHERE label = :label"), {"label": "uncommitted"}).all()
        user.execute(sa.text("UPDATE items SET label = :new WHERE label = :old"), {"new": "x", "old": "y"})
    assert [p.root is not None for p in report.plans] == [True, True]
    assert {w.kind for p in report.plans for w in p.warnings} == {"seq-scan"}
    assert user.in_transaction()
    assert user.exec_driver_sql("SELECT label FROM items WHERE id = 1").scalars().all() == ["uncommitted"]
    assert user.exec_driver_sql("SELECT count(*) FROM items").scalar() == 1501
    transaction.rollback()
    assert user.exec_driver_sql("SELECT count(*) FROM items").scalar() == 0
    user.close()


def test_ddl_and_failed_statements_get_notes(sqlite_engine: sa.Engine) -> None:
    plan = explain_statement(sqlite_engine, "SELECT 1")
    assert plan.root is None and "not open" in (plan.note or "")  # nothing connected yet
    with sqlite_engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        plan = explain_statement(sqlite_engine, "CREATE TABLE z (a INT)")
        assert plan.root is None and "DDL" in (plan.note or "")
        plan = explain_statement(sqlite_engine, "SELECT * FROM missing_table WHERE a = ?", (1,))
    assert plan.root is None and "EXPLAIN failed" in (plan.note or "")


def test_unsupported_dialect_is_a_note() -> None:
    engine = sa.create_engine("sqlite://")
    engine.dialect.name = "exotic"  # no EXPLAIN known for it
    plan = explain_statement(engine, "SELECT 1")
    assert plan.root is None and plan.note == "EXPLAIN not supported for dialect exotic"


def test_aiosqlite_in_memory() -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    async def main() -> Report:
        engine = create_async_engine("sqlite+aiosqlite://")
        try:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)")
            with sqla_magic.profile(explain=True, memory=False) as report:
                async with engine.connect() as conn:
                    await conn.execute(sa.text("SELECT * FROM items WHERE label = :l"), {"l": "x"})
            return report
        finally:
            await engine.dispose()

    report = asyncio.run(main())
    (plan,) = report.plans
    assert plan.root is not None, plan
    assert [w.kind for w in plan.warnings] == ["seq-scan"]


def test_asyncpg_numeric_dollar_parameters(table_prefix: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    url = PG_URL.replace("+psycopg2", "+asyncpg")
    table = f"{table_prefix}async_items"

    async def main() -> tuple[Report, Any]:
        engine = create_async_engine(url)
        try:
            try:
                async with engine.begin() as conn:
                    await conn.exec_driver_sql(f"CREATE TABLE {table} (id SERIAL PRIMARY KEY, label TEXT)")
            except Exception as problem:
                if REQUIRE_SERVERS:
                    pytest.fail(f"PostgreSQL unreachable: {problem}")
                pytest.skip(f"PostgreSQL unreachable: {problem}")
            try:
                with sqla_magic.profile(explain=True, explain_analyze=True, memory=False) as report:
                    async with engine.begin() as conn:
                        await conn.execute(sa.text(f"SELECT * FROM {table} WHERE label = :l"), {"l": "x"})
                        await conn.execute(
                            sa.text(f"INSERT INTO {table} (label) VALUES (:l)"), [{"l": "a"}, {"l": "b"}]
                        )
                async with engine.connect() as conn:
                    count = (await conn.exec_driver_sql(f"SELECT count(*) FROM {table}")).scalar()
            finally:
                async with engine.begin() as conn:
                    await conn.exec_driver_sql(f"DROP TABLE {table}")
            return report, count
        finally:
            await engine.dispose()

    report, count = asyncio.run(main())
    assert count == 2
    plans = {p.sql.split()[0].upper(): p for p in report.plans}
    # asyncpg's own numeric style from SQLAlchemy 2.0; 1.4's adapter converts `%s` itself.
    assert ("$1" if not sa.__version__.startswith("1.") else "%s") in plans["SELECT"].sql
    assert plans["SELECT"].analyzed and plans["SELECT"].root is not None, plans["SELECT"]
    assert plans["INSERT"].root is not None and not plans["INSERT"].analyzed, plans["INSERT"]
