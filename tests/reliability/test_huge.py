"""A million rows, a hundred thousand statements, ten-megabyte parameters: memory stays
bounded, the report says what it left out, and it still renders quickly."""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

import sqla_magic
from sqla_magic.model import Report
from sqla_magic.render.html import render_page
from sqla_magic.render.text import render_text

MIB = 2**20
MILLION = 1_000_000


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for row in status:
            if row.startswith(field):
                return int(row.split()[1])
    raise LookupError(field)


def peak_rss_growth(work: Callable[[], Any]) -> tuple[int, Any]:
    """Bytes the resident set grew at its highest while `work` ran (the kernel's own
    high-water mark, reset first), and what `work` returned."""
    gc.collect()
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")
    start = _status_kib("VmRSS:")
    value = work()
    return (_status_kib("VmHWM:") - start) * 1024, value


def _assert_renders_quickly(report: Report, limit_s: float = 5.0) -> None:
    for render in (render_text, render_page, Report._repr_html_):
        began = time.perf_counter()
        output = render(report)
        elapsed = time.perf_counter() - began
        assert output and elapsed < limit_s, (render.__name__, elapsed)


def _stream(conn: Any, sql: str) -> int:
    """Fetch every row in batches, holding none (`partitions()` would keep them all on
    SQLAlchemy 2.0 with psycopg2's server-side cursors)."""
    rows = 0
    for _row in conn.execution_options(yield_per=20_000).exec_driver_sql(sql):
        rows += 1
    return rows


def test_a_million_rows_on_sqlite(sqlite_engine: sa.Engine) -> None:
    sql = (
        f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {MILLION}) SELECT x FROM c"
    )

    def work() -> tuple[Report, int]:
        with sqla_magic.profile() as report, sqlite_engine.connect() as conn:
            rows = _stream(conn, sql)
        return report, rows

    growth, (report, rows) = peak_rss_growth(work)
    assert rows == MILLION
    assert report.statements[0].rows == MILLION and report.rows == MILLION
    assert growth < 60 * MIB, f"{growth / MIB:.0f} MiB"
    assert len(report.to_json()) < 2 * MIB
    _assert_renders_quickly(report)


def test_a_million_rows_on_postgresql(pg_engine: sa.Engine) -> None:
    sql = f"SELECT g, 'row ' || g FROM generate_series(1, {MILLION}) AS g"

    def work() -> tuple[Report, int]:
        with sqla_magic.profile(explain_analyze=True) as report, pg_engine.connect() as conn:
            rows = _stream(conn.execution_options(stream_results=True), sql)
        return report, rows

    growth, (report, rows) = peak_rss_growth(work)
    assert rows == MILLION and report.statements[0].rows == MILLION
    assert growth < 60 * MIB, f"{growth / MIB:.0f} MiB"
    assert report.plans and report.plans[0].analyzed
    _assert_renders_quickly(report)


def test_a_hundred_thousand_statements(sqlite_engine: sa.Engine) -> None:
    total = 100_000

    def work() -> Report:
        with sqla_magic.profile(memory=False) as report, sqlite_engine.connect() as conn:
            for i in range(total):
                conn.exec_driver_sql("SELECT ?", (i,)).all()
        return report

    growth, report = peak_rss_growth(work)
    cap = 20_000
    assert len(report.statements) == cap
    assert report.dropped_statements == total - cap
    assert any(f"{total - cap} more statements" in note for note in report.notes)
    assert report.wall_s >= sum(s.duration_s for s in report.statements)
    assert growth < 150 * MIB, f"{growth / MIB:.0f} MiB"
    _assert_renders_quickly(report)
    assert "more statements" in render_text(report) + report.to_html()


@pytest.fixture
def big_values() -> Iterator[list[str]]:
    yield [chr(ord("a") + i) * (10 * MIB) for i in range(4)]


def test_ten_megabyte_parameters(sqlite_engine: sa.Engine, big_values: list[str]) -> None:
    gc.collect()
    tracemalloc.start()
    try:
        held_before = tracemalloc.get_traced_memory()[0]
        with sqla_magic.profile(memory=False, call_tree=False) as report, sqlite_engine.connect() as conn:
            for value in big_values:
                assert conn.execute(sa.text("SELECT length(:p)"), {"p": value}).scalar() == 10 * MIB
            conn.exec_driver_sql("CREATE TABLE big (a TEXT, b TEXT)")
            pairs = [{"a": v, "b": v} for v in big_values[:2]]
            conn.execute(sa.text("INSERT INTO big VALUES (:a, :b)"), pairs)
        gc.collect()
        held_by_report = tracemalloc.get_traced_memory()[0] - held_before
    finally:
        tracemalloc.stop()
    assert held_by_report < 2 * MIB, f"{held_by_report / MIB:.1f} MiB"
    first = report.statements[0].params[0]
    assert len(first) < 300 and first.endswith(f"(+{10 * MIB - 200} chars)")
    many = report.statements[-1]
    assert many.executemany and many.param_sets == 2
    assert all(len(v) < 300 for params in many.params for v in params)
    assert len(report.to_json()) < MIB
    _assert_renders_quickly(report, limit_s=2.0)
