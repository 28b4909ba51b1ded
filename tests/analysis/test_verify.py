"""`verify` leaves the database and the user's own transaction as they were."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import demo
from sqla_magic.analysis.verify import verify
from sqla_magic.model import Finding, Rewrite

ORIGINAL = """%%sqlprofile --quiet
for b in session.query(Book).filter(Book.author_id <= 10):
    b.pages += 1
session.add(Author(id=20_000, name="added by the cell"))
session.flush()
session.query(sa.func.sum(Book.pages)).scalar()
"""
REWRITTEN = """%%sqlprofile --quiet
session.query(Book).filter(Book.author_id <= 10).update({Book.pages: Book.pages + 1})
session.add(Author(id=20_000, name="added by the cell"))
session.flush()
session.query(sa.func.sum(Book.pages)).scalar()
"""


def finding(original: str = ORIGINAL, rewritten: str = REWRITTEN) -> Finding:
    return Finding("loop-update", "medium", "t", "m", rewrite=Rewrite(original, rewritten))


def checksum(engine: sa.Engine, models: demo.DemoModels) -> tuple[Any, ...]:
    with engine.connect() as conn:
        return (
            conn.scalar(sa.select(sa.func.count()).select_from(models.Author.__table__)),
            conn.scalar(sa.select(sa.func.sum(models.Book.__table__.c.pages))),
            conn.scalar(sa.select(sa.func.count()).select_from(models.Book.__table__)),
        )


def check_database(engine: sa.Engine, prefix: str) -> None:
    models = demo.declare(prefix)
    demo.populate(engine, models, authors=30, books_per_author=5)
    session = Session(engine)
    try:
        before = checksum(engine, models)
        pending = models.Author(id=10_000, name="pending, not committed")
        session.add(pending)
        namespace = {"session": session, "Book": models.Book, "Author": models.Author, "sa": sa}
        result = verify(finding(), None, namespace)
        assert result.verified, result.reason
        assert result.same_result
        assert result.before.executions > result.after.executions  # type: ignore[union-attr]
        # the user's transaction still holds the pending author, nothing was committed
        assert pending in session
        assert session.scalar(sa.select(sa.func.count()).where(models.Author.name == pending.name)) == 1
        assert (
            session.scalar(sa.select(sa.func.count()).where(models.Author.name == "added by the cell")) == 0
        )
        assert checksum(engine, models) == before
        session.commit()
        assert checksum(engine, models)[0] == before[0] + 1
    finally:
        session.close()
        models.metadata.drop_all(engine)


def test_sqlite_file_database_unchanged(tmp_path: Any, table_prefix: str) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'v.db'}")
    check_database(engine, table_prefix)
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_database_unchanged(pg_engine: sa.Engine, table_prefix: str) -> None:
    check_database(pg_engine, table_prefix)


def test_refuses_what_cannot_be_rolled_back(sqlite_engine: sa.Engine) -> None:
    session = Session(sqlite_engine)
    namespace = {"session": session, "engine": sqlite_engine}
    commits = finding("x = 1\nsession.commit()\n", "x = 1\n")
    assert verify(commits, None, namespace).reason == "the cell commits"
    direct = finding("with engine.connect() as c:\n    pass\n", "x = 1\n")
    assert not verify(direct, None, namespace).verified
    uses_engine = finding("engine.dispose\n", "x = 1\n")
    assert "directly" in verify(uses_engine, None, namespace).reason
    assert "no SQLAlchemy Session" in verify(finding("x = 1\n", "x = 2\n"), None, {}).reason
    no_rewrite = Finding("seq-scan", "low", "t", "m")
    assert not verify(no_rewrite, None, namespace).verified
