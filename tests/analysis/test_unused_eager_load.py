"""unused-eager-load on hand-built reports."""

from __future__ import annotations

from sqla_magic.analysis.rules import unused_eager_load
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Report, Statement


def _statement(line: int, origin: str) -> Statement:
    return Statement(
        sql="SELECT 1",
        params=(),
        duration_s=0.002,
        rowcount=-1,
        executemany=False,
        fingerprint=origin,
        cache="cached",
        line=line,
        origin=origin,
        engine="sqlite://",
        thread="MainThread",
    )


SOURCE = """%%sqlprofile
from sqlalchemy.orm import selectinload  # loaders
names = [a.name for a in session.scalars(select(Author).options(selectinload(Author.books)))]
"""


def test_unused_selectin_is_found_and_dropped() -> None:
    report = Report(
        wall_s=0.01,
        cpu_s=0.01,
        source=SOURCE,
        statements=(_statement(3, "query"), _statement(3, "eager load Author.books")),
    )
    (finding,) = unused_eager_load.rule(report, SOURCE, Thresholds())
    assert finding.rule == "unused-eager-load" and finding.lines == (3,) and finding.statements == (1,)
    assert "Author.books" in finding.title and "1 extra statement (" in finding.message
    assert finding.rewrite is not None
    rewritten = finding.rewrite.rewritten
    assert "session.scalars(select(Author))]" in rewritten and "# loaders" in rewritten
    compile(rewritten.split("\n", 1)[1], "<cell>", "exec")


def test_read_relationship_is_not_flagged() -> None:
    source = SOURCE.replace("a.name for a", "len(a.books) for a")
    report = Report(wall_s=0.01, cpu_s=0.01, source=source, statements=(_statement(3, "query"),))
    assert unused_eager_load.rule(report, source, Thresholds()) == []


def test_option_on_a_line_that_never_ran_is_not_flagged() -> None:
    report = Report(wall_s=0.01, cpu_s=0.01, source=SOURCE, statements=(_statement(9, "query"),))
    assert unused_eager_load.rule(report, SOURCE, Thresholds()) == []


def test_objects_passed_to_a_function_from_elsewhere_are_not_flagged() -> None:
    source = SOURCE.replace(
        "names = [a.name for a in session.scalars(select(Author).options(selectinload(Author.books)))]",
        "authors = session.scalars(select(Author).options(selectinload(Author.books))).all()\n"
        "payload = serialize(authors)",
    )
    report = Report(wall_s=0.01, cpu_s=0.01, source=source, statements=(_statement(3, "query"),))
    assert unused_eager_load.rule(report, source, Thresholds()) == []
    local = "def serialize(rows):\n    return [r.name for r in rows]\n" + source.split("\n", 1)[1]
    local = "%%sqlprofile\n" + local
    lines = local.splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "selectinload(Author.books)))" in text)
    report = Report(wall_s=0.01, cpu_s=0.01, source=local, statements=(_statement(line, "query"),))
    assert [f.rule for f in unused_eager_load.rule(report, local, Thresholds())] == ["unused-eager-load"]
