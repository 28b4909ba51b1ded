"""loop-insert for bulk calls made one row at a time: the rewrite makes one bulk call and
writes the same rows, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import runpy
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import demo

PROGRAM = """\
from sqla_magic import profile

with profile(memory=False) as report:
{body}
"""

BULK_LOOPS = {
    "mappings": """
    for i in range(150):
        session.bulk_insert_mappings(Book, [dict(author_id=1 + i % 5, title=f"n{i}", pages=i)])
    session.commit()
    """,
    "objects": """
    for i in range(150):
        session.bulk_save_objects([Book(author_id=1 + i % 5, title=f"o{i}", pages=2 * i)])
    session.commit()
    """,
}


@pytest.fixture
def library(any_engine: sa.Engine, table_prefix: str) -> Iterator[Any]:
    models = demo.declare(table_prefix)
    demo.populate(any_engine, models, authors=5, books_per_author=1, users=1, addresses_per_user=1)
    sa.orm.configure_mappers()
    try:
        yield models
    finally:
        models.metadata.drop_all(any_engine)


def _rows(engine: sa.Engine, models: Any) -> list[tuple[Any, ...]]:
    book = models.Book.__table__
    with engine.connect() as conn:
        rows = conn.execute(sa.select(book.c.author_id, book.c.title, book.c.pages).order_by(book.c.id))
        return [tuple(row) for row in rows]


def _run(path: Path, engine: sa.Engine, models: Any) -> dict[str, Any]:
    with Session(engine) as session:
        return runpy.run_path(str(path), init_globals={"session": session, "Book": models.Book})


@pytest.mark.parametrize("kind", sorted(BULK_LOOPS))
def test_bulk_call_per_row_becomes_one_call(
    tmp_path: Path, any_engine: sa.Engine, library: Any, kind: str
) -> None:
    original = tmp_path / "program.py"
    original.write_text(
        PROGRAM.format(body=textwrap.indent(textwrap.dedent(BULK_LOOPS[kind]).strip(), "    "))
    )
    report = _run(original, any_engine, library)["report"]
    (finding,) = [f for f in report.findings if f.rule == "loop-insert"]
    method = "bulk_insert_mappings" if kind == "mappings" else "bulk_save_objects"
    assert f"`{method}` called with one row per iteration of the loop on line 4" in finding.message
    assert finding.rewrite is not None and f"{method}(" in finding.rewrite.rewritten
    written = _rows(any_engine, library)
    assert len(written) == 155  # five books from the fixture
    with any_engine.begin() as conn:
        conn.execute(library.Book.__table__.delete().where(library.Book.__table__.c.id > 5))
    rewritten = tmp_path / "rewritten.py"
    rewritten.write_text(finding.rewrite.rewritten)
    after = _run(rewritten, any_engine, library)["report"]
    assert _rows(any_engine, library) == written
    assert len(after.statements) < len(report.statements) / 10
    assert not [f for f in after.findings if f.rule == "loop-insert"]


def test_one_bulk_call_with_every_row_is_clean(tmp_path: Path, any_engine: sa.Engine, library: Any) -> None:
    body = """
    rows = [dict(author_id=1 + i % 5, title=f"n{i}", pages=i) for i in range(150)]
    session.bulk_insert_mappings(Book, rows)
    session.commit()
    """
    path = tmp_path / "program.py"
    path.write_text(PROGRAM.format(body=textwrap.indent(textwrap.dedent(body).strip(), "    ")))
    report = _run(path, any_engine, library)["report"]
    assert not [f for f in report.findings if f.rule == "loop-insert"]
    assert len(_rows(any_engine, library)) == 155
