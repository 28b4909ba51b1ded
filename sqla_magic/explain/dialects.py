"""Which explainer serves which database, by SQLAlchemy's `dialect.name`: one line each.

A database without a line gets no EXPLAIN (its statements' plans say so).  The base
`DialectExplainer` runs a plain `EXPLAIN <statement>` and shows its rows as text.
"""

from __future__ import annotations

from typing import Any, Optional

from sqla_magic.explain.dialect import DialectExplainer
from sqla_magic.explain.mysql import MySQLExplainer
from sqla_magic.explain.postgresql import PostgreSQLExplainer
from sqla_magic.explain.sqlite import SQLiteExplainer

DIALECTS: dict[str, type[DialectExplainer]] = {
    "sqlite": SQLiteExplainer,
    "postgresql": PostgreSQLExplainer,
    "mysql": MySQLExplainer,
    "mariadb": MySQLExplainer,
    # Known to accept a plain `EXPLAIN <statement>`; read as text.
    "duckdb": DialectExplainer,
    "cockroachdb": DialectExplainer,
    "redshift": DialectExplainer,
    "snowflake": DialectExplainer,
    "trino": DialectExplainer,
    "presto": DialectExplainer,
    "databricks": DialectExplainer,
    "clickhouse": DialectExplainer,
    "clickhousedb": DialectExplainer,
    "crate": DialectExplainer,
    "risingwave": DialectExplainer,
    "yugabytedb": DialectExplainer,
    "greenplum": DialectExplainer,
}
"""The explainer class per dialect name; users may add their database's."""


def explainer_for(engine: Any) -> Optional[DialectExplainer]:
    """The explainer for the engine's database; None when it has no EXPLAIN we know."""
    explainer = DIALECTS.get(engine.dialect.name)
    return explainer(engine) if explainer is not None else None
