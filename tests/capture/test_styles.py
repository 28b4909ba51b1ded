"""Capture works the same for every way of writing SQLAlchemy code users bring."""

from __future__ import annotations

import asyncio
import sys

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import demo, profile


@pytest.fixture
def models(sqlite_engine, table_prefix):
    models = demo.declare(table_prefix)
    demo.populate(sqlite_engine, models, authors=10, books_per_author=2)
    return models


def test_select_2_0_style_lazy_loads(sqlite_engine, models) -> None:
    with Session(sqlite_engine) as session, profile(explain=False) as report:
        authors = session.scalars(sa.select(models.Author)).all()
        titles = [book.title for author in authors for book in author.books]
    assert len(titles) == 20
    assert [s.origin for s in report.statements].count("lazy load Author.books") == 10
    assert report.statements[0].origin == "query"


def test_eager_and_many_to_one_origins(sqlite_engine, models) -> None:
    with Session(sqlite_engine) as session, profile(explain=False) as report:
        authors = session.scalars(
            sa.select(models.Author).options(sa.orm.selectinload(models.Author.books))
        ).all()
        session.expunge_all()
        book = session.get(models.Book, 1)
        author_name = book.author.name
    assert len(authors) == 10 and author_name == "Author 1"
    origins = [s.origin for s in report.statements]
    assert origins[:2] == ["query", "eager load Author.books"]
    assert origins[-1] == "lazy load Book.author"


def test_expired_attribute_refresh(sqlite_engine, models) -> None:
    with Session(sqlite_engine) as session:
        author = session.get(models.Author, 1)
        session.commit()  # expires the author
        with profile(explain=False) as report:
            name = author.name
    assert name == "Author 1"
    assert [s.origin for s in report.statements] == ["refresh Author"]


def test_flask_sqlalchemy_model_query(tmp_path) -> None:
    flask = pytest.importorskip("flask")
    flask_sqlalchemy = pytest.importorskip("flask_sqlalchemy")
    app = flask.Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'app.db'}"
    db = flask_sqlalchemy.SQLAlchemy(app)

    class Shelf(db.Model):  # type: ignore[name-defined]
        id = db.Column(db.Integer, primary_key=True)
        items = db.relationship("Item", backref="shelf")

    class Item(db.Model):  # type: ignore[name-defined]
        id = db.Column(db.Integer, primary_key=True)
        shelf_id = db.Column(db.ForeignKey("shelf.id"))

    with app.app_context():
        db.create_all()
        db.session.add_all([Shelf(items=[Item(), Item()]) for _ in range(5)])
        db.session.commit()
        db.session.expire_all()
        with profile(explain=False) as report:
            sizes = [len(shelf.items) for shelf in Shelf.query.all()]
        db.session.remove()
        db.engine.dispose()
    assert sizes == [2] * 5
    origins = [s.origin for s in report.statements]
    assert origins[0] == "query" and origins[1:] == ["lazy load Shelf.items"] * 5
    assert report.statements[1].line == report.statements[0].line


async def _async_workload(url: str, prefix: str) -> tuple[object, list[int]]:
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    engine = create_async_engine(url)
    models = demo.declare(prefix)
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: demo.populate(sync, models, authors=5, books_per_author=3))
    try:
        async with AsyncSession(engine) as session:
            with profile(explain=False) as report:
                result = await session.scalars(sa.select(models.Author).order_by(models.Author.id))
                authors = result.all()
                counts = [len(await author.awaitable_attrs.books) for author in authors]
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(models.metadata.drop_all)
        await engine.dispose()
    return report, counts


@pytest.mark.skipif(sa.__version__.startswith("1.4"), reason="awaitable_attrs is new in SQLAlchemy 2.0")
@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"])
def test_async_session_lines_and_origins(url, table_prefix, request) -> None:
    if "asyncpg" in url:
        request.getfixturevalue("pg_engine")  # skips (or fails in CI) when the server is down
    report, counts = asyncio.run(_async_workload(url, table_prefix))
    assert counts == [3] * 5
    origins = [s.origin for s in report.statements]
    assert origins == ["query"] + ["lazy load Author.books"] * 5
    line = sys._getframe().f_code.co_firstlineno  # lines are this file's, from the workload above
    assert all(s.line is not None and s.line < line for s in report.statements)
    assert report.statements[0].line + 2 == report.statements[1].line
