"""Threads, several engines, nested profiles and concurrent asyncio tasks in one profile."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from IPython.core.interactiveshell import InteractiveShell

import sqla_magic
from sqla_magic.capture.statements import listeners_installed
from tests.reliability.conftest import run


def test_statements_from_other_threads_name_their_thread(shell: InteractiveShell) -> None:
    run(
        shell,
        "%%sqlprofile -o rep --quiet --no-explain\n"
        "import threading\n"
        "def work(n):\n"
        "    with engine.connect() as conn:\n"
        "        conn.exec_driver_sql(f'SELECT {n} AS from_thread').all()\n"
        "workers = [threading.Thread(target=work, args=(n,), name=f'worker-{n}') for n in range(3)]\n"
        "for w in workers: w.start()\n"
        "for w in workers: w.join()\n"
        "session.execute(sa.text('SELECT 99 AS from_main')).all()\n",
    ).raise_error()
    report = shell.user_ns["rep"]
    threads = {s.sql: s.thread for s in report.statements}
    assert threads == {
        "SELECT 0 AS from_thread": "worker-0",
        "SELECT 1 AS from_thread": "worker-1",
        "SELECT 2 AS from_thread": "worker-2",
        "SELECT 99 AS from_main": "MainThread",
    }
    assert {s.line for s in report.statements if s.thread != "MainThread"} == {5}


def test_two_engines_in_one_cell(shell: InteractiveShell, tmp_path: Path) -> None:
    shell.user_ns["second"] = sa.create_engine(f"sqlite:///{tmp_path / 'second.db'}")
    try:
        run(
            shell,
            "%%sqlprofile -o rep --quiet\n"
            "session.execute(sa.text('SELECT 1 AS first_engine')).all()\n"
            "with second.connect() as conn:\n"
            "    conn.exec_driver_sql('SELECT 2 AS second_engine').all()\n",
        ).raise_error()
        report = shell.user_ns["rep"]
        engines = {s.sql: s.engine for s in report.statements}
        assert engines["SELECT 1 AS first_engine"] == "sqlite://"
        assert engines["SELECT 2 AS second_engine"].endswith("second.db")
        assert len(set(engines.values())) == 2
        assert {p.statement for p in report.plans} == {0, 1}
    finally:
        shell.user_ns.pop("second").dispose()


def test_two_engines_one_with_a_password(sqlite_engine: sa.Engine, pg_engine: sa.Engine) -> None:
    secret = sa.create_engine(pg_engine.url.set(password="s3cret-pw"))
    try:
        with sqla_magic.profile() as report:
            with sqlite_engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1").all()
            with secret.connect() as conn:
                conn.exec_driver_sql("SELECT 2").all()
        urls = [s.engine for s in report.statements]
        assert urls[0] == "sqlite://" and urls[1].startswith("postgresql+psycopg2://postgres:***@")
        assert "s3cret-pw" not in report.to_json()
    finally:
        secret.dispose()


def test_nested_profile_inside_a_profiled_cell(shell: InteractiveShell) -> None:
    run(
        shell,
        "%%sqlprofile -o outer --quiet --no-explain\n"
        "session.execute(sa.text('SELECT 1 AS before_inner')).all()\n"
        "with sqla_magic.profile(explain=False) as inner:\n"
        "    session.execute(sa.text('SELECT 2 AS in_inner')).all()\n"
        "session.execute(sa.text('SELECT 3 AS after_inner')).all()\n",
    ).raise_error()
    outer, inner = shell.user_ns["outer"], shell.user_ns["inner"]
    assert [s.sql for s in outer.statements] == [
        "SELECT 1 AS before_inner",
        "SELECT 2 AS in_inner",
        "SELECT 3 AS after_inner",
    ]
    assert [s.line for s in outer.statements] == [2, 4, 5]
    assert [s.sql for s in inner.statements] == ["SELECT 2 AS in_inner"]
    assert inner.statements[0].line == 4
    assert outer.call_tree is not None and inner.call_tree is None
    assert any("another profiler is active" in note for note in inner.notes)
    assert not any("another profiler" in note for note in outer.notes)
    assert sqla_magic.last_report() is outer
    assert not listeners_installed()


def test_nested_profile_blocks_outside_ipython(sqlite_engine: sa.Engine) -> None:
    with sqla_magic.profile(explain=False) as outer, sqlite_engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1").all()
        with sqla_magic.profile(explain=False, memory_lines=True) as inner:
            conn.exec_driver_sql("SELECT 2").all()
    assert len(outer.statements) == 2 and len(inner.statements) == 1
    assert inner.call_tree is None and outer.call_tree is not None
    assert not listeners_installed()


def test_async_tasks_gathered_are_each_captured_once(shell: InteractiveShell, tmp_path: Path) -> None:
    pytest.importorskip("aiosqlite")
    shell.user_ns["db_path"] = str(tmp_path / "async.db")
    run(
        shell,
        "import asyncio\n"
        "from sqlalchemy.ext.asyncio import create_async_engine\n"
        "aengine = create_async_engine(f'sqlite+aiosqlite:///{db_path}')\n",
    ).raise_error()
    result = run(
        shell,
        "%%sqlprofile -o arep --quiet\n"
        "async def task(n):\n"
        "    async with aengine.connect() as conn:\n"
        "        for k in range(3):\n"
        "            await conn.execute(sa.text('SELECT :n AS task, :k AS step'), {'n': n, 'k': k})\n"
        "    return n\n"
        "done = await asyncio.gather(*(task(n) for n in range(8)))\n"
        "len(done)\n",
    )
    result.raise_error()
    assert result.result == 8
    report = shell.user_ns["arep"]
    seen = sorted((s.params[0], s.params[1]) for s in report.statements)
    assert seen == [(n, k) for n in range(8) for k in range(3)]
    assert {s.line for s in report.statements} == {5}
    run(shell, "await aengine.dispose()").raise_error()
    assert not listeners_installed()
