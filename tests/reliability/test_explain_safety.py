"""EXPLAIN changes nothing, counted: rows, sequence values and files before and after,
on AUTOCOMMIT engines, with writes hidden after a misread first statement, with functions
that write while planning, and after the cell changed its session's schema."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import sqla_magic
from sqla_magic.explain import explain_statement


@pytest.fixture
def pg_writer(pg_engine: sa.Engine, table_prefix: str) -> Iterator[tuple[sa.Engine, str]]:
    """A log table, a sequence and a function that writes to both when called."""
    log = f"{table_prefix}log"
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {log} (id integer)")
        conn.exec_driver_sql(f"CREATE SEQUENCE {log}_seq")
        conn.exec_driver_sql(
            f"CREATE FUNCTION {log}_write() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN "
            f"INSERT INTO {log} VALUES (nextval('{log}_seq')); RETURN 1; END $$"
        )
    yield pg_engine, log
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f"DROP FUNCTION {log}_write()")
        conn.exec_driver_sql(f"DROP SEQUENCE {log}_seq")
        conn.exec_driver_sql(f"DROP TABLE {log}")


def _pg_counts(engine: sa.Engine, log: str) -> tuple[int, int]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT count(*) FROM {log}").scalar_one()
        sequence = conn.exec_driver_sql(f"SELECT last_value FROM {log}_seq").scalar_one()
    return rows, sequence


def test_explain_analyze_on_an_autocommit_postgresql_engine_writes_nothing(
    pg_writer: tuple[sa.Engine, str],
) -> None:
    engine, log = pg_writer
    autocommit = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT")
    with autocommit.connect() as conn:
        conn.exec_driver_sql(f"SELECT {log}_write()")  # the cell's own call writes, once
    before = _pg_counts(engine, log)
    assert before == (1, 1)
    with sqla_magic.profile(explain_analyze=True, memory=False) as report, autocommit.connect() as conn:
        conn.exec_driver_sql(f"SELECT {log}_write() FROM generate_series(1, 3)").all()
    assert _pg_counts(engine, log) == (4, 4)  # the cell's three calls, and nothing from EXPLAIN
    (plan,) = report.plans
    assert not plan.analyzed and "read-only transaction" in (plan.note or "")
    autocommit.dispose()


def test_postgresql_advisory_lock_cannot_hold_explain_past_its_timeout(
    pg_engine: sa.Engine,
) -> None:
    autocommit = sa.create_engine(pg_engine.url, isolation_level="AUTOCOMMIT")
    with autocommit.connect() as holder:
        holder.exec_driver_sql("SELECT pg_advisory_lock(424242)")
        plan = explain_statement(autocommit, "SELECT pg_advisory_lock(424242)", analyze=True)
        holder.exec_driver_sql("SELECT pg_advisory_unlock(424242)")
    assert plan.root is not None and not plan.analyzed  # ANALYZE hit the statement timeout
    autocommit.dispose()


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        ("SELECT 1 --x\n; DELETE FROM {t}", "mariadb"),
        ("SELECT 1 # c\n; DELETE FROM {t}", "mariadb"),
        ("SELECT 1 /*! ; DELETE FROM {t} */", "mariadb"),
        ("SELECT 'a\\'; DELETE FROM {t}; -- '", "mariadb"),
        ("SELECT 'a\\'; DELETE FROM {t}; --'", "postgresql"),
        ("SELECT 1 --x\n; DELETE FROM {t}", "postgresql"),
    ],
)
def test_writes_hidden_after_a_first_statement_are_never_run(
    sql: str, dialect: str, request: pytest.FixtureRequest, table_prefix: str
) -> None:
    engine: sa.Engine = request.getfixturevalue("pg_engine" if dialect == "postgresql" else "mariadb_engine")
    table = f"{table_prefix}kept"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (id integer)")
        conn.exec_driver_sql(f"INSERT INTO {table} VALUES (1), (2), (3)")
    try:
        autocommit = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT")
        for analyze in (False, True):
            plan = explain_statement(autocommit, sql.format(t=table), analyze=analyze)
            assert plan.root is None and (plan.note or "").startswith("not explained:"), plan.note
        autocommit.dispose()
        with engine.connect() as conn:
            assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one() == 3
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")


def test_mariadb_plain_explain_of_a_writing_function_changes_nothing(
    mariadb_engine: sa.Engine, table_prefix: str
) -> None:
    log = f"{table_prefix}log"
    with mariadb_engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {log} (id integer) ENGINE=Aria")
        conn.exec_driver_sql(f"CREATE SEQUENCE {log}_seq")
        conn.exec_driver_sql(
            f"CREATE FUNCTION {log}_write() RETURNS integer MODIFIES SQL DATA BEGIN "
            f"INSERT INTO {log} VALUES (NEXTVAL({log}_seq)); RETURN 1; END"
        )
    autocommit = sa.create_engine(mariadb_engine.url, isolation_level="AUTOCOMMIT")

    def counts() -> tuple[int, int]:
        with mariadb_engine.connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT count(*) FROM {log}").scalar_one()
            sequence = conn.exec_driver_sql(f"SELECT next_not_cached_value FROM {log}_seq").scalar_one()
        return rows, sequence

    try:
        before = counts()
        for sql in (
            f"SELECT * FROM (SELECT {log}_write() AS w) AS d",
            f"SELECT {log}_write()",
            f"UPDATE {log} SET id = {log}_write()",
            f"DELETE FROM {log} WHERE id IN (SELECT {log}_write())",
        ):
            for analyze in (False, True):
                explain_statement(autocommit, sql, analyze=analyze)
        assert counts() == before
    finally:
        autocommit.dispose()
        with mariadb_engine.begin() as conn:
            conn.exec_driver_sql(f"DROP FUNCTION {log}_write")
            conn.exec_driver_sql(f"DROP SEQUENCE {log}_seq")
            conn.exec_driver_sql(f"DROP TABLE {log}")


def test_plans_after_set_search_path_are_of_the_schema_the_cell_used(
    pg_engine: sa.Engine, table_prefix: str
) -> None:
    schema = f"{table_prefix}s2"
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        conn.exec_driver_sql(f"CREATE TABLE {schema}.only_here (id integer, note text)")
    try:
        with sqla_magic.profile(memory=False) as report, pg_engine.connect() as conn:
            conn.exec_driver_sql(f"SET search_path TO {schema}")
            conn.exec_driver_sql("SELECT * FROM only_here WHERE note = 'x'").all()
            conn.exec_driver_sql("SET search_path TO public")
        (plan,) = [p for p in report.plans if "only_here" in (p.sql or "")]
        assert plan.root is not None, plan.note
        assert "replaying" in (plan.note or "") and schema in (plan.note or "")
        with sqla_magic.profile(memory=False) as refused, pg_engine.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            conn.exec_driver_sql("SELECT 1").all()
        (plan,) = [p for p in refused.plans if p.sql == "SELECT 1"]
        assert plan.root is None and "does not replay" in (plan.note or "")
    finally:
        with pg_engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


def test_mariadb_plans_after_use_are_of_the_database_the_cell_used(
    mariadb_engine: sa.Engine, table_prefix: str
) -> None:
    database = f"{table_prefix}db"
    with mariadb_engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {database}")
        conn.exec_driver_sql(f"CREATE TABLE {database}.only_here (id integer, note text)")
    try:
        with sqla_magic.profile(memory=False) as report, mariadb_engine.connect() as conn:
            conn.exec_driver_sql(f"USE {database}")
            conn.exec_driver_sql("SELECT * FROM only_here WHERE note = 'x'").all()
        (plan,) = [p for p in report.plans if "only_here" in (p.sql or "")]
        assert plan.root is not None, plan.note
        assert "replaying" in (plan.note or "")
    finally:
        with mariadb_engine.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {database}")


def test_a_sqlite_file_locked_by_the_users_write_costs_little(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'locked.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id integer, note text)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    files_before = sorted(p.name for p in tmp_path.iterdir())
    with engine.connect() as user:
        users_transaction = user.begin()  # so that SQLAlchemy 1.4 does not autocommit the UPDATE
        user.exec_driver_sql("BEGIN EXCLUSIVE")  # a write of the user's, not committed yet
        user.exec_driver_sql("UPDATE t SET note = 'changed'")
        started = time.monotonic()
        with sqla_magic.profile(memory=False) as report:
            for i in range(3):
                user.exec_driver_sql(f"SELECT * FROM t WHERE id = {i} AND note = 'x{i}'").all()
        elapsed = time.monotonic() - started
        users_transaction.rollback()
    assert elapsed < 2.5, elapsed
    assert report.plans and all("locked" in (p.note or "") for p in report.plans)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT note FROM t ORDER BY id").scalars().all() == ["a", "b"]
    engine.dispose()
    assert sorted(p.name for p in tmp_path.iterdir()) == files_before


def test_plans_after_set_role_are_of_the_role_the_cell_used(pg_engine: sa.Engine, table_prefix: str) -> None:
    """Row-level security shows in the plan only for the role it applies to."""
    table, role = f"{table_prefix}owned", f"{table_prefix}reader"
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (id integer, owner text, note text)")
        conn.exec_driver_sql(f"INSERT INTO {table} VALUES (1, '{role}', 'a'), (2, 'other', 'b')")
        conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        conn.exec_driver_sql(f"CREATE ROLE {role}")
        conn.exec_driver_sql(f"GRANT SELECT ON {table} TO {role}")
        conn.exec_driver_sql(f"CREATE POLICY mine ON {table} USING (owner = current_user)")
    query = f"SELECT * FROM {table} WHERE note <> 'x'"
    try:
        with sqla_magic.profile(memory=False) as report, pg_engine.connect() as conn:
            conn.exec_driver_sql(f"SET ROLE {role}")
            seen = conn.exec_driver_sql(query).all()
            conn.exec_driver_sql("RESET ROLE")
            everything = conn.exec_driver_sql(query + " AND id > 0").all()
        assert [row.id for row in seen] == [1] and len(everything) == 2
        plans = {p.sql: p for p in report.plans}
        as_role, as_owner = plans[query], plans[query + " AND id > 0"]
        assert as_role.root is not None and as_owner.root is not None, (as_role.note, as_owner.note)
        assert "CURRENT_USER" in as_role.root.detail.upper() and f"SET ROLE {role}" in (as_role.note or "")
        assert "CURRENT_USER" not in as_owner.root.detail.upper()
        with pg_engine.connect() as conn:
            assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one() == 2
    finally:
        with pg_engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")
            conn.exec_driver_sql(f"DROP ROLE {role}")


@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
def test_a_setting_of_one_connection_is_not_replayed_for_another(
    dialect: str, request: pytest.FixtureRequest, table_prefix: str
) -> None:
    engine: sa.Engine = request.getfixturevalue("pg_engine" if dialect == "postgresql" else "mariadb_engine")
    other = f"{table_prefix}other"
    switch = f"SET search_path TO {other}" if dialect == "postgresql" else f"USE {other}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE {'SCHEMA' if dialect == 'postgresql' else 'DATABASE'} {other}")
        conn.exec_driver_sql(f"CREATE TABLE {other}.{table_prefix}t (id integer, note text)")
        conn.exec_driver_sql(f"CREATE TABLE {table_prefix}t (id integer, note text)")
    query = f"SELECT * FROM {table_prefix}t WHERE note = 'x'"
    try:
        with sqla_magic.profile(memory=False) as report, engine.connect() as switched:
            switched.exec_driver_sql(switch)
            with engine.connect() as default:
                default.exec_driver_sql(query).all()
        (plan,) = [p for p in report.plans if p.sql == query]
        assert plan.root is not None and "replaying" not in (plan.note or ""), plan.note
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table_prefix}t")
            conn.exec_driver_sql(
                f"DROP {'SCHEMA' if dialect == 'postgresql' else 'DATABASE'} {other} CASCADE"
                if dialect == "postgresql"
                else f"DROP DATABASE {other}"
            )
