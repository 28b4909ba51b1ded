"""Shared fixtures: real databases, reached over the network.

PostgreSQL and MariaDB tests skip when the server is unreachable, unless
`SQLA_MAGIC_REQUIRE_SERVERS=1` (set by CI), where an unreachable server fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import settings

# CI runs the fuzz tests on a fixed seed, so a run is repeatable; locally they explore.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

PG_URL = os.environ.get("SQLA_MAGIC_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("SQLA_MAGIC_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REQUIRE_SERVERS = os.environ.get("SQLA_MAGIC_REQUIRE_SERVERS") == "1"


def _server_engine(url: str, name: str, **kwargs: object) -> sa.Engine:
    try:
        engine = sa.create_engine(url, **kwargs)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as problem:
        message = (
            f"{name} unreachable at {sa.engine.make_url(url).render_as_string(hide_password=True)}: {problem}"
        )
        if REQUIRE_SERVERS:
            pytest.fail(message)
        pytest.skip(message)
    return engine


@pytest.fixture
def table_prefix() -> str:
    """A name prefix unique to this test, so concurrent runs never share tables."""
    return f"t{uuid.uuid4().hex[:8]}_"


@pytest.fixture
def sqlite_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine() -> Iterator[sa.Engine]:
    engine = _server_engine(PG_URL, "PostgreSQL")
    yield engine
    engine.dispose()


@pytest.fixture
def mariadb_engine() -> Iterator[sa.Engine]:
    engine = _server_engine(MARIADB_URL, "MariaDB")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def any_engine(request: pytest.FixtureRequest) -> sa.Engine:
    """Each test using it runs on SQLite, PostgreSQL and MariaDB."""
    name = {"sqlite": "sqlite_engine", "postgresql": "pg_engine", "mariadb": "mariadb_engine"}[request.param]
    return request.getfixturevalue(name)
