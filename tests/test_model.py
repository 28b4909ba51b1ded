"""The report model: lossless JSON round trip of real reports, and the pandas views."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import Report, demo, profile
from sqla_magic.model import Site, Statement


def _real_report(engine: sa.engine.Engine, prefix: str) -> Report:
    models = demo.declare(prefix)
    demo.populate(engine, models, authors=8, books_per_author=3, users=5)
    with Session(engine) as session, profile(memory_lines=True, explain=False) as report:
        authors = session.query(models.Author).all()
        titles = [book.title for author in authors for book in author.books]
        session.execute(sa.text("SELECT :blob, :n"), {"blob": b"\x00" * 10, "n": 3}).all()
        session.execute(models.Book.__table__.insert(), [{"author_id": 1, "title": "t", "pages": 1}] * 3)
        session.rollback()
    assert len(titles) == 24
    return report


def test_json_round_trip_is_lossless(sqlite_engine, table_prefix) -> None:
    report = _real_report(sqlite_engine, table_prefix)
    assert report.call_tree is not None and report.memory is not None and report.memory.lines
    again = Report.from_json(report.to_json())
    assert again == report
    assert Report.from_json(again.to_json(indent=2)) == report


def test_frames(sqlite_engine, table_prefix) -> None:
    report = _real_report(sqlite_engine, table_prefix)
    statements = report.statements_frame()
    assert len(statements) == len(report.statements)
    assert {"sql", "params", "duration_s", "rowcount", "cache", "line", "origin", "engine", "thread"} <= set(
        statements.columns
    )
    groups = report.groups_frame()
    assert {"count", "total_s", "mean_s", "rows"} <= set(groups.columns)
    assert groups["count"].sum() == len(report.statements)
    lazy = groups[groups["origins"].apply(lambda o: o == ["lazy load Author.books"])]
    assert lazy["count"].tolist() == [8] and lazy["rows"].tolist() == [24]
    assert groups["total_s"].is_monotonic_decreasing


def test_empty_report_views() -> None:
    report = Report(wall_s=0.0, cpu_s=0.0)
    assert report.statements_frame().empty and report.groups_frame().empty
    assert Report.from_json(report.to_json()) == report


def test_statement_of_builds_the_same_statement_as_the_constructor() -> None:
    values = {
        "sql": "SELECT 1", "params": {"a": 1}, "duration_s": 0.5, "rowcount": -1, "executemany": False,
        "fingerprint": "f", "cache": "cached", "line": 2, "origin": "core", "engine": "sqlite://",
        "thread": "MainThread", "dialect": "sqlite", "rows": 1, "fetch_s": 0.1, "start_s": 0.0,
        "param_sets": 1, "error": None, "streamed": False,
        "site": Site("app/services.py", 12, "load"), "stack": (Site("app/services.py", 12, "load"),),
        "request": "GET /", "request_index": 0, "session_index": 0, "flush_index": 3,
    }  # fmt: skip
    assert Statement.of(values) == Statement(**values)
    with pytest.raises(TypeError, match="exactly the fields"):
        Statement.of({k: v for k, v in values.items() if k != "rows"})


def test_saved_reports_carry_their_format_and_older_ones_still_open() -> None:
    from sqla_magic.model import FORMAT_VERSION

    statement = Statement(
        sql="SELECT 1", params=(), duration_s=0.1, rowcount=1, executemany=False, fingerprint="f",
        cache="cached", line=2, origin="core", engine="sqlite://", thread="MainThread",
    )  # fmt: skip
    report = Report(wall_s=0.5, cpu_s=0.25, statements=(statement,), notes=())
    saved = report.to_dict()
    assert saved["format"] == FORMAT_VERSION
    older = {k: v for k, v in saved.items() if k not in ("format", "notes", "dropped_statements")}
    older["statements"] = [{k: v for k, v in saved["statements"][0].items() if k != "streamed"}]
    assert Report.from_dict(older) == report  # what an older version did not write takes its default
    with pytest.raises(ValueError, match="newer than this sqla_magic reads"):
        Report.from_dict({**saved, "format": FORMAT_VERSION + 1})


def test_frames_without_pandas_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # import fails, as when it is not installed
    with pytest.raises(ImportError, match=r"statements_frame\(\) needs pandas.*sqla_magic\[frames\]"):
        Report(wall_s=0.0, cpu_s=0.0).statements_frame()
    with pytest.raises(ImportError, match=r"groups_frame\(\) needs pandas"):
        Report(wall_s=0.0, cpu_s=0.0).groups_frame()


def test_a_deferred_rewrite_is_built_once_on_first_read_and_a_failing_one_is_none() -> None:
    from sqla_magic.model import DeferredRewrite, Finding, Rewrite

    built: list[int] = []

    def build() -> Rewrite:
        built.append(1)
        return Rewrite(original="a = 1\n", rewritten="a = 2\n", explanation="two")

    def broken() -> Rewrite:
        raise ValueError("cannot rewrite")

    finding = Finding(rule="r", severity="low", title="t", message="m", rewrite=DeferredRewrite(build))
    assert built == []
    assert finding.rewrite == Rewrite(original="a = 1\n", rewritten="a = 2\n", explanation="two")
    assert finding.rewrite is finding.rewrite and built == [1]
    failing = Finding(rule="r", severity="low", title="t", message="m", rewrite=DeferredRewrite(broken))
    assert failing.rewrite is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "5",
        '{"statements": 5}',
        '{"wall_s": "x", "cpu_s": 1}',
        '{"wall_s": 1, "cpu_s": 1, "statements": [{"sql": 1}]}',
        "[" * 100_000 + "]" * 100_000,
        '{"wall_s": 1, "cpu_s": 1, "findings": [{"rule": 1}]}',
        '{"wall_s": 1, "cpu_s": 1, "plans": [{"root": []}]}',
        '{"wall_s": 1, "cpu_s": 1, "memory": "x"}',
    ],
)
def test_hostile_json_raises_one_clear_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"^not a sqla_magic report: "):
        Report.from_json(text)
