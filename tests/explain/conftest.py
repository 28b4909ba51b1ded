"""A 50,000-row table per test on the database under test, dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

ROWS = 50_000


def people_rows() -> list[dict[str, Any]]:
    return [{"id": i, "name": f"n{i}", "age": i % 90, "note": f"note {i % 7}"} for i in range(1, ROWS + 1)]


@pytest.fixture
def people(any_engine: sa.Engine, table_prefix: str) -> Iterator[sa.Table]:
    metadata = sa.MetaData()
    table = sa.Table(
        f"{table_prefix}people",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(40)),
        sa.Column("age", sa.Integer),
        sa.Column("note", sa.String(40)),
    )
    metadata.create_all(any_engine)
    try:
        with any_engine.begin() as conn:
            if any_engine.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    f"INSERT INTO {table.name} (id, name, age, note) SELECT g, 'n' || g, g %% 90, "
                    f"'note ' || (g %% 7) FROM generate_series(1, {ROWS}) g"
                )
                conn.exec_driver_sql(f"SELECT setval('{table.name}_id_seq', {ROWS})")
            else:
                conn.execute(table.insert(), people_rows())
            if any_engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"ANALYZE {table.name}")
            elif any_engine.dialect.name == "mysql":
                conn.exec_driver_sql(f"ANALYZE TABLE {table.name}").fetchall()
        yield table
    finally:
        metadata.drop_all(any_engine)


@pytest.fixture
def capture_driver_sql() -> Any:
    """Run a statement in a rolled-back transaction and return the SQL and parameters its
    cursor received, as the profiler records them."""

    def capture(engine: sa.Engine, statement: Any, params: Any = None) -> tuple[str, Any, bool]:
        seen: list[tuple[str, Any, bool]] = []

        def listener(conn: Any, cursor: Any, sql: str, parameters: Any, context: Any, many: bool) -> None:
            seen.append((sql, parameters, many))

        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            with engine.connect() as conn, conn.begin() as transaction:
                conn.execute(statement, params) if params is not None else conn.execute(statement)
                transaction.rollback()
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        return seen[-1]

    return capture
