"""loop-select: on hand-built reports, and on real databases where the rewrite runs and
gives the same results with fewer statements."""

from __future__ import annotations

import runpy
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import demo
from sqla_magic.analysis.rules import loop_select
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Report, Site, Statement

LIMITS = Thresholds()


def _statement(params: Any, *, origin: str = "query", site: Site | None = None, **extra: Any) -> Statement:
    values: dict[str, Any] = dict(
        sql="SELECT book.id, book.title FROM book WHERE book.author_id = ?",
        params=params,
        duration_s=0.001,
        rowcount=-1,
        executemany=False,
        fingerprint="f1",
        cache="cached",
        line=3,
        origin=origin,
        engine="sqlite://",
        thread="MainThread",
        site=site or Site("services.py", 41, "books_of"),
    )
    values.update(extra)
    return Statement(**values)


def _report(*statements: Statement) -> Report:
    return Report(wall_s=0.1, cpu_s=0.1, statements=statements, filename="<cell>")


def test_one_site_with_different_parameters_fires_and_names_the_site() -> None:
    report = _report(*(_statement((i,)) for i in range(30)))
    (finding,) = loop_select.rule(report, "", LIMITS)
    assert finding.rule == "loop-select" and len(finding.statements) == 30
    assert "services.py:41` in `books_of`" in finding.message and "30 different sets" in finding.message
    assert finding.sites == (Site("services.py", 41, "books_of"),)
    assert finding.rewrite is None and "one query for all items: `IN`" in finding.message
    assert finding.seconds == pytest.approx(0.03) and finding.share == pytest.approx(0.3)


def test_same_parameters_lazy_loads_and_few_runs_stay_quiet() -> None:
    assert loop_select.rule(_report(*(_statement((1,)) for _ in range(30))), "", LIMITS) == []
    lazy = [_statement((i,), origin="lazy load Author.books") for i in range(30)]
    assert loop_select.rule(_report(*lazy), "", LIMITS) == []
    assert loop_select.rule(_report(*(_statement((i,)) for i in range(9))), "", LIMITS) == []
    spread = [_statement((i,), site=Site("services.py", 40 + i, "f")) for i in range(30)]
    assert loop_select.rule(_report(*spread), "", LIMITS) == []


def test_repetitions_count_within_one_request() -> None:
    per_request = [
        _statement((r * 10 + i,), request=f"GET /author/{r}", request_index=r)
        for r in range(6)
        for i in range(5)
    ]
    assert loop_select.rule(_report(*per_request), "", LIMITS) == []
    one = [_statement((i,), request="GET /authors", request_index=0) for i in range(12)]
    (finding,) = loop_select.rule(_report(*one), "", LIMITS)
    assert "within request `GET /authors`" in finding.message


def test_aggregates_get_group_by_advice() -> None:
    count = "SELECT count(*) AS count_1 FROM book WHERE book.author_id = ?"
    (finding,) = loop_select.rule(_report(*(_statement((i,), sql=count) for i in range(12))), "", LIMITS)
    assert "one query with `GROUP BY`" in finding.message


# -- real databases -----------------------------------------------------------------------

PROGRAM = """\
import sqlalchemy as sa
from sqlalchemy import func, select
from sqla_magic import profile

with profile(memory=False) as report:
{body}
"""


def _run(tmp_path: Path, body: str, namespace: dict[str, Any], name: str = "program.py") -> dict[str, Any]:
    path = tmp_path / name
    path.write_text(PROGRAM.format(body=textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")))
    return runpy.run_path(str(path), init_globals=namespace)


def _rerun(tmp_path: Path, source: str, namespace: dict[str, Any]) -> dict[str, Any]:
    path = tmp_path / "rewritten.py"
    path.write_text(source)
    return runpy.run_path(str(path), init_globals=namespace)


@pytest.fixture
def library(any_engine: sa.Engine, table_prefix: str) -> Any:
    models = demo.declare(table_prefix)
    demo.populate(any_engine, models, authors=40, books_per_author=3, users=2, addresses_per_user=1)
    sa.orm.configure_mappers()
    try:
        yield models
    finally:
        models.metadata.drop_all(any_engine)


def _namespace(engine: sa.Engine, models: Any, session: Session) -> dict[str, Any]:
    return {"session": session, "Author": models.Author, "Book": models.Book, "engine": engine}


def test_get_in_a_loop_becomes_one_in_query(tmp_path: Path, any_engine: sa.Engine, library: Any) -> None:
    body = """
    ids = list(range(1, 31)) + [999]
    found = [session.get(Author, i) for i in ids]
    again = [session.get(Author, i) for i in ids[:30]]
    names = [a.name if a is not None else None for a in found]
    """
    with Session(any_engine) as session:
        before = _run(tmp_path, body, _namespace(any_engine, library, session))
    report = before["report"]
    (finding,) = [f for f in report.findings if f.rule == "loop-select"]
    assert len(finding.statements) == 31  # the second loop finds every object in the identity map
    assert finding.sites[0].line == 7 and finding.sites[0].file.endswith("program.py")
    assert finding.rewrite is not None and ".in_(ids)" in finding.rewrite.rewritten
    with Session(any_engine) as session:
        after = _rerun(tmp_path, finding.rewrite.rewritten, _namespace(any_engine, library, session))
    assert after["names"] == before["names"] and after["names"][-1] is None
    assert [a.id for a in after["again"]] == [a.id for a in before["again"]]
    assert len(after["report"].statements) == 2  # the IN query, and the get() of the missing key
    assert not [f for f in after["report"].findings if f.rule == "loop-select"]


def test_count_per_row_becomes_one_group_by(tmp_path: Path, any_engine: sa.Engine, library: Any) -> None:
    body = """
    authors = session.scalars(select(Author).order_by(Author.id)).all()
    counts = {}
    for author in authors:
        counts[author.name] = session.scalar(
            select(func.count()).select_from(Book).where(Book.author_id == author.id + 38)
        )
    """
    with Session(any_engine) as session:
        before = _run(tmp_path, body, _namespace(any_engine, library, session))
    (finding,) = [f for f in before["report"].findings if f.rule == "loop-select"]
    assert finding.rewrite is not None and "group_by(Book.author_id)" in finding.rewrite.rewritten
    with Session(any_engine) as session:
        after = _rerun(tmp_path, finding.rewrite.rewritten, _namespace(any_engine, library, session))
    assert after["counts"] == before["counts"] and 0 in after["counts"].values()
    assert len(after["report"].statements) == 2


def test_helper_query_in_a_function_gets_advice(tmp_path: Path, any_engine: sa.Engine, library: Any) -> None:
    body = """
    def titles_of(author_id):
        return session.scalars(select(Book.title).where(Book.author_id == author_id)).all()

    titles = {i: titles_of(i) for i in range(1, 21)}
    """
    with Session(any_engine) as session:
        report = _run(tmp_path, body, _namespace(any_engine, library, session))["report"]
    (finding,) = [f for f in report.findings if f.rule == "loop-select"]
    assert finding.sites[0].function == "titles_of" and "from line 7," in finding.message
    assert finding.rewrite is None and "`IN` over the loop's values" in finding.message


def test_clean_counterparts_stay_clean(tmp_path: Path, any_engine: sa.Engine, library: Any) -> None:
    body = """
    authors = session.scalars(select(Author).where(Author.id.in_(range(1, 31)))).all()
    found = [session.get(Author, i) for i in range(1, 31)]
    counts = dict(session.execute(select(Book.author_id, func.count()).group_by(Book.author_id)).all())
    total = [session.scalar(select(func.count()).select_from(Book)) for _ in range(12)]
    """
    with Session(any_engine) as session:
        report = _run(tmp_path, body, _namespace(any_engine, library, session))["report"]
    assert not [f for f in report.findings if f.rule == "loop-select"]
    assert len(report.statements) == 14
