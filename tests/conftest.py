"""Shared fixtures: real databases, reached over the network.

PostgreSQL and MariaDB tests skip when the server is unreachable, unless
`SQLA_MAGIC_REQUIRE_SERVERS=1` (set by CI), where an unreachable server fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from hypothesis import settings
from IPython.core.interactiveshell import InteractiveShell

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


@pytest.fixture
def magic_shell() -> Iterator[Callable[[str], InteractiveShell]]:
    """Start the real IPython shell with `%load_ext sqla_magic` and `setup` (which must
    bind `session`); the session is closed and the extension unloaded afterwards."""
    started: list[InteractiveShell] = []

    def start(setup: str) -> InteractiveShell:
        ip = InteractiveShell.instance()
        ip.run_cell("%load_ext sqla_magic", store_history=False)
        started.append(ip)
        ip.run_cell(setup, store_history=False).raise_error()
        return ip

    yield start
    for ip in started:
        ip.run_cell("session.close()", store_history=False)
        ip.run_cell("%unload_ext sqla_magic", store_history=False)
