"""The comparison's text and HTML: what a reader sees of two runs."""

from __future__ import annotations

import html.parser

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from sqla_magic import demo, profile
from sqla_magic.model import Comparison


def _comparison(engine: sa.Engine, prefix: str) -> Comparison:
    models = demo.declare(prefix)
    demo.populate(engine, models, authors=20, books_per_author=2)
    models.Base.registry.configure()
    with Session(engine) as session, profile(explain=False) as before:
        for author in session.scalars(sa.select(models.Author)).all():
            len(author.books)
    with Session(engine) as session, profile(explain=False) as after:
        for author in session.scalars(sa.select(models.Author).options(selectinload(models.Author.books))):
            len(author.books)
    return before.compare(after, names=("lazy", "selectin"))


def test_text_shows_counts_shapes_and_fixed_findings(sqlite_engine: sa.Engine, table_prefix: str) -> None:
    comparison = _comparison(sqlite_engine, table_prefix)
    text = comparison.to_text()
    assert text.startswith("sqla_magic comparison: lazy → selectin")
    statements = next(line for line in text.splitlines() if line.startswith("statements"))
    assert statements.split()[1:4] == ["21", "2", "-19"] and statements.endswith("better")
    assert "Statement shapes: 1 removed, 1 added, 1 unchanged" in text
    assert "Findings: 1 fixed" in text and "n-plus-one: N+1 lazy loads of Author.books" in text
    assert repr(comparison) == text


class _Parser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_page_is_standalone_and_escaped(pg_engine: sa.Engine, table_prefix: str) -> None:
    comparison = _comparison(pg_engine, table_prefix)
    hostile = Comparison(**{**comparison.__dict__, "names": ("<script>x</script>", "after")})
    page = hostile.to_html()
    assert page.startswith("<!DOCTYPE html>") and "<script>" not in page
    assert "http" not in page.replace("http-equiv", "")
    parser = _Parser()
    parser.feed(page)
    text = " ".join(parser.text)
    assert "Comparison: <script>x</script> → after" in text
    assert "1 fixed" in text and "removed" in text
    assert comparison._repr_html_().startswith('<div class="sqla-magic-report">')
