"""The report model: lossless JSON round trip of real reports, and the pandas views."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import Report, demo, profile
from sqla_magic.model import Site, Statement, release_columns


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


def test_statements_from_rows_are_the_statements_the_constructor_builds() -> None:
    values = {
        "sql": "SELECT 1", "params": {"a": 1}, "duration_s": 0.5, "rowcount": -1, "executemany": False,
        "fingerprint": "f", "cache": "cached", "line": 2, "origin": "core", "engine": "sqlite://",
        "thread": "MainThread", "dialect": "sqlite", "rows": 1, "fetch_s": 0.1, "start_s": 0.0,
        "param_sets": 1, "error": None, "streamed": False,
        "site": Site("app/services.py", 12, "load"), "stack": (Site("app/services.py", 12, "load"),),
        "request": "GET /", "request_index": 0, "session_index": 0, "flush_index": 3,
    }  # fmt: skip
    other = {**values, "sql": "SELECT 2", "line": None, "site": None, "stack": ()}
    built = Statement.from_rows([tuple(values.values()), tuple(other.values())])
    assert built == (Statement(**values), Statement(**other))
    first = built[0]
    assert type(first) is Statement and vars(first) == values and list(vars(first)) == list(values)
    assert pickle.loads(pickle.dumps(first)) == first
    assert dataclasses.replace(first, rows=7).rows == 7
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.rows = 2  # type: ignore[misc]
    assert Report.from_json(Report(0.0, 0.0, statements=built).to_json()).statements == built
    assert built.column("sql") == ("SELECT 1", "SELECT 2") and built.column("site") == (values["site"], None)
    assert pickle.loads(pickle.dumps(built)) == built and type(pickle.loads(pickle.dumps(built))) is tuple
    assert Statement.from_rows([]) == () and Statement.from_rows([]).column("sql") == ()
    release_columns(built)
    assert "columns" not in vars(built) and built.column("line") == (2, None)
    with pytest.raises(ValueError):
        Statement.from_rows([tuple(values.values())[:-1]])


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


def _square_all(values: list[int]) -> int:
    return sum(_square(v) for v in values)


def _square(value: int) -> int:
    return value * value


def test_pstats_gives_the_call_tree_to_pstats_and_snakeviz(sqlite_engine, table_prefix, tmp_path) -> None:
    """On 3.11 cProfile hooks `sys.setprofile`; from 3.12 it runs on `sys.monitoring`: the
    same Stats either way, read back from a file as snakeviz reads it."""
    import pstats

    models = demo.declare(table_prefix)
    demo.populate(sqlite_engine, models, authors=30, books_per_author=2)
    with Session(sqlite_engine) as session, profile(explain=False, memory=False) as report:
        pages = [book.pages for author in session.scalars(sa.select(models.Author)) for book in author.books]
        total = sum(_square_all(list(range(200))) for _ in range(50))
    assert len(pages) == 60 and total == 50 * sum(v * v for v in range(200))
    assert report.call_tree is not None
    stats = report.pstats()
    assert isinstance(stats, pstats.Stats)
    by_name = {key[2]: (key, value) for key, value in stats.stats.items()}  # type: ignore[attr-defined]
    (file, line, _), (cc, nc, tt, ct, callers) = by_name["_square_all"]
    assert (file, line) == (__file__, _square_all.__code__.co_firstlineno)
    assert nc == cc == 50 and 0 < tt <= ct
    nodes = [n for n in report.call_tree.walk() if n.name == "_square_all"]
    assert ct == pytest.approx(sum(n.total_s for n in nodes))
    assert by_name["_square"][1][1] == 50 * 200  # the tree keeps cProfile's call counts
    assert [(k[0], k[2], v[1]) for k, v in callers.items()] == [(__file__, "<genexpr>", 50)]
    root = stats.stats[("", 0, "<profiled code>")]  # type: ignore[attr-defined]
    assert root[3] == report.call_tree.total_s and root[4] == {}
    assert 0 < stats.total_tt <= report.call_tree.total_s  # type: ignore[attr-defined]
    path = tmp_path / "report.prof"
    stats.dump_stats(path)
    again = pstats.Stats(str(path))
    assert again.stats == stats.stats  # type: ignore[attr-defined]
    printed = tmp_path / "printed.txt"
    with printed.open("w") as stream:
        pstats.Stats(str(path), stream=stream).sort_stats("cumulative").print_stats("_square")
    assert "_square_all" in printed.read_text()


def test_pstats_without_a_call_tree_says_why() -> None:
    with pytest.raises(ValueError, match="no call tree"):
        Report(wall_s=0.0, cpu_s=0.0).pstats()
