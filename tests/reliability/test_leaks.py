"""Nothing stays installed after many profiled cells, past reports are bounded, and
`%unload_ext` puts the shell back as it was."""

from __future__ import annotations

import gc
import sys
import threading
import tracemalloc
import warnings
import weakref
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy import event

import sqla_magic
from sqla_magic import pipeline
from sqla_magic.capture import run as capture_run
from sqla_magic.capture import statements
from tests.reliability.conftest import run

CELLS = 200

# A mix of what cells do: plain queries, lazy loads, a failing cell, a thread, per-line
# memory (tracemalloc + settrace), a warning, the shown report.
CELL_KINDS = [
    "%%sqlprofile --quiet --no-explain\nrows = session.scalars(sa.select(Author)).all()\n",
    "%%sqlprofile --quiet\nn = sum(len(a.books) for a in session.scalars(sa.select(Author)))\n",
    "%%sqlprofile --quiet --no-explain\nsession.execute(sa.text('SELECT 1')).all()\nraise ValueError('x')\n",
    "%%sqlprofile --quiet --no-explain --memory-lines\nrows = [list(range(100)) for _ in range(100)]\n",
    "%%sqlprofile --quiet --no-explain\nimport warnings\nwarnings.warn('careful')\n",
    "%%sqlprofile --no-explain --no-memory\nx = session.get(Author, 1)\n",
]


def _profiler_tool() -> object:
    """The `sys.monitoring` profiler tool (cProfile's hook from Python 3.12 on)."""
    monitoring = getattr(sys, "monitoring", None)
    return monitoring.get_tool(monitoring.PROFILER_ID) if monitoring is not None else None


def _process_state() -> dict[str, Any]:
    return {
        "profile": sys.getprofile(),
        "profiler tool": _profiler_tool(),
        "trace": sys.gettrace(),
        "tracemalloc": tracemalloc.is_tracing(),
        "showwarning": warnings.showwarning,
        "threads": {t.ident for t in threading.enumerate()},
    }


@pytest.mark.filterwarnings("ignore:careful")
def test_two_hundred_cells_leave_nothing_installed(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _process_state()
    reports: list[weakref.ref[Any]] = []
    shell.run_line_magic("config", "SqlProfile.keep_reports = 3")
    try:
        for index in range(CELLS):
            run(shell, CELL_KINDS[index % len(CELL_KINDS)])
            report = sqla_magic.last_report()
            assert report is not None
            reports.append(weakref.ref(report))
            capsys.readouterr()
        assert _process_state() == before
        assert not statements.listeners_installed()
        for target, name, fn, _ in statements._LISTENERS:
            assert not event.contains(target, name, fn)
        del report
        shell.run_cell("rows = x = n = None", store_history=False)
        gc.collect()
        alive = [ref for ref in reports if ref() is not None]
        assert len(alive) <= 3, f"{len(alive)} of {CELLS} reports are still held"
        assert reports[-1]() is sqla_magic.last_report()
    finally:
        shell.run_line_magic("config", "SqlProfile.keep_reports = 10")
    assert pipeline._history.maxlen == 10


def test_keep_reports_config_trait_is_wired(shell: InteractiveShell) -> None:
    shell.run_line_magic("config", "SqlProfile.keep_reports = 2")
    try:
        for _ in range(4):
            run(shell, "%%sqlprofile --quiet --no-explain --no-memory\nx = 1\n").raise_error()
        assert len(pipeline._history) == 2
    finally:
        shell.run_line_magic("config", "SqlProfile.keep_reports = 10")


def test_engine_url_cache_does_not_hold_engines() -> None:
    import sqlalchemy as sa

    engine = sa.create_engine("sqlite://")
    with sqla_magic.profile(explain=False, memory=False) as report, engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1").all()
    assert report.statements[0].engine == "sqlite://"
    held = weakref.ref(engine)
    engine.dispose()
    del engine, conn
    gc.collect()
    assert held() is None


def _shell_state(ip: InteractiveShell) -> tuple[Any, ...]:
    return (
        list(ip.input_transformers_cleanup),
        list(ip.events.callbacks["post_run_cell"]),
        {kind: dict(table) for kind, table in ip.magics_manager.magics.items()},
        dict(ip.magics_manager.registry),
        list(ip.configurables),
        sys.getprofile(),
        _profiler_tool(),
        sys.gettrace(),
        warnings.showwarning,
    )


def test_unload_extension_restores_the_shell() -> None:
    ip = InteractiveShell.instance()
    ip.run_cell("%unload_ext sqla_magic", store_history=False)
    before = _shell_state(ip)
    ip.run_cell("%load_ext sqla_magic", store_history=False)
    ip.run_line_magic("config", "SqlProfile.keep_reports = 4")
    ip.run_cell("%%sqlprofile --quiet --no-explain\nx = 1\n", store_history=False).raise_error()
    ip.run_cell("%unload_ext sqla_magic", store_history=False)
    after = _shell_state(ip)
    assert after == before
    assert not statements.listeners_installed()
    for target, name, fn, _ in statements._LISTENERS:
        assert not event.contains(target, name, fn)
    pipeline.keep_reports(10)


def test_unload_in_the_middle_of_a_profile_stops_it() -> None:
    ip = InteractiveShell.instance()
    ip.run_cell("%load_ext sqla_magic", store_history=False)
    from sqla_magic import magic

    magic.start_cell("--quiet --no-explain")
    assert statements.listeners_installed()
    ip.run_cell("%unload_ext sqla_magic", store_history=False)
    assert not statements.listeners_installed() and sys.getprofile() is None and _profiler_tool() is None


def test_engine_urls_are_not_kept_for_dropped_engines() -> None:
    import sqlalchemy as sa

    before = len(capture_run._URLS)
    for _ in range(20):
        engine = sa.create_engine("sqlite://")
        quiet = sqla_magic.profile(explain=False, memory=False, call_tree=False, findings=False)
        with quiet, engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").all()
        engine.dispose()
    del engine, conn
    gc.collect()
    assert len(capture_run._URLS) <= before + 1
