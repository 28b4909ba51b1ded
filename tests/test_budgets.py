"""`sqla_magic.budget`: a run over its statement budget fails with a summary that says where."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from sqla_magic import BudgetExceeded, budget, demo
from tests.conftest import PG_URL

THIS_FILE = __file__


@pytest.fixture
def library(any_engine: sa.Engine, table_prefix: str) -> Iterator[tuple[sa.Engine, demo.DemoModels]]:
    models = demo.declare(table_prefix)
    demo.populate(any_engine, models, authors=10, books_per_author=3)
    models.Base.registry.configure()
    yield any_engine, models
    models.metadata.drop_all(any_engine)


def test_within_budget_gives_the_report(library: tuple[sa.Engine, demo.DemoModels]) -> None:
    engine, models = library
    with (
        Session(engine) as session,
        budget(max_statements=2, max_per_shape=1, fail_on=("n-plus-one",)) as run,
    ):
        authors = session.scalars(sa.select(models.Author).options(selectinload(models.Author.books))).all()
        assert sum(len(a.books) for a in authors) == 30
    assert len(run.statements) == 2
    assert run.call_tree is None and run.memory is None and run.plans == ()


def test_too_many_statements_says_where(library: tuple[sa.Engine, demo.DemoModels]) -> None:
    engine, models = library
    with pytest.raises(BudgetExceeded) as raised, Session(engine) as session, budget(max_statements=5):
        for author in session.scalars(sa.select(models.Author)):
            len(author.books)  # the N+1
    summary = str(raised.value)
    first, violation, sql, origin = summary.splitlines()[:4]
    assert first == "statement budget exceeded:"
    assert violation == "  - 11 statements (budget: 5); the most run shape:"
    assert (
        sql.lstrip().startswith("SELECT")
        and origin.lstrip()
        == f"lazy load Author.books, at {THIS_FILE}:43 in test_too_many_statements_says_where"
    )
    assert "11 statements in 2 shapes" in summary
    assert len(raised.value.report.statements) == 11
    assert [v.kind for v in raised.value.violations] == ["statements"]


def test_shape_and_rule_violations_name_the_line(library: tuple[sa.Engine, demo.DemoModels]) -> None:
    engine, models = library
    limits = budget(max_per_shape=3, rules=("n-plus-one",))
    with pytest.raises(BudgetExceeded) as raised, Session(engine) as session, limits:
        for author in session.scalars(sa.select(models.Author)):
            line = sys_line()
            len(author.books)
    summary = str(raised.value)
    kinds = [v.kind for v in raised.value.violations]
    assert kinds == ["shape", "rule"]
    assert "one statement shape ran 10 times (budget: 3 per shape)" in summary
    assert f"lazy load Author.books, at {THIS_FILE}:{line + 1} in test_shape_and_rule" in summary
    assert "n-plus-one: N+1 lazy loads of Author.books" in summary


def sys_line() -> int:
    import sys

    return sys._getframe(1).f_lineno


def test_the_block_s_own_exception_wins(library: tuple[sa.Engine, demo.DemoModels]) -> None:
    engine, models = library
    with pytest.raises(KeyError), Session(engine) as session, budget(max_statements=0):
        session.scalars(sa.select(models.Author)).all()
        raise KeyError("own")


def test_decorator_sync(library: tuple[sa.Engine, demo.DemoModels]) -> None:
    engine, models = library

    @budget(max_statements=1)
    def count_books(limit: int) -> int:
        with Session(engine) as session:
            return sum(len(a.books) for a in session.scalars(sa.select(models.Author).limit(limit)))

    assert count_books.__name__ == "count_books"
    with pytest.raises(BudgetExceeded, match="3 statements"):
        count_books(2)
    assert count_books(0) == 0


@pytest.mark.skipif(sa.__version__.startswith("1.4"), reason="awaitable_attrs is new in SQLAlchemy 2.0")
def test_async_decorator_and_async_with() -> None:
    pytest.importorskip("asyncpg")
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    url = sa.engine.make_url(PG_URL).set(drivername="postgresql+asyncpg")

    async def main() -> None:
        engine = create_async_engine(url)
        models = demo.declare("tasync_" + str(id(main))[-6:] + "_")
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: demo.populate(c, models, authors=12, books_per_author=2))
        try:

            @budget(max_statements=1, fail_on=["n-plus-one"])
            async def titles() -> list[str]:
                async with AsyncSession(engine) as session:
                    authors = (await session.scalars(sa.select(models.Author))).all()
                    return [b.title for a in authors for b in await a.awaitable_attrs.books]

            with pytest.raises(BudgetExceeded, match="13 statements") as raised:
                await titles()
            assert "n-plus-one" in [v.finding.rule for v in raised.value.violations if v.finding]

            async with AsyncSession(engine) as session, budget(max_statements=1) as run:
                await session.scalars(sa.select(models.Book))
            assert len(run.statements) == 1
        finally:
            async with engine.begin() as conn:
                await conn.run_sync(models.metadata.drop_all)
            await engine.dispose()

    asyncio.run(main())


def test_exported_from_the_package() -> None:
    import sqla_magic.budgets

    assert sqla_magic.budget is sqla_magic.budgets.budget
    assert issubclass(sqla_magic.BudgetExceeded, Exception)
