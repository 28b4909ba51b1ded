"""no-cache-key when the compiled cache is switched off and compiling takes the time; raw
driver SQL (also uncached, but never compiled) and the default cache stay clean."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from sqla_magic import demo, profile
from sqla_magic.model import Report


@pytest.fixture
def library(any_engine: sa.Engine, table_prefix: str) -> Iterator[Any]:
    models = demo.declare(table_prefix)
    demo.populate(any_engine, models, authors=20, books_per_author=3, users=1, addresses_per_user=1)
    sa.orm.configure_mappers()
    try:
        yield models
    finally:
        models.metadata.drop_all(any_engine)


def _lookups(conn: sa.Connection, models: Any) -> list[Any]:
    book, author = models.Book, models.Author
    query = (
        sa.select(book.title, author.name, sa.func.upper(book.title).label("shout"))
        .join(author, book.author_id == author.id)
        .where(book.pages > 10, author.name.like("%"), book.title.is_not(None))
        .order_by(book.id)
        .limit(3)
    )
    return [conn.execute(query.offset(i % 20)).all() for i in range(150)]


def _cache_off(report: Report) -> list[Any]:
    return [f for f in report.findings if f.rule == "no-cache-key" and "switched off" in f.title]


def test_execution_option_compiled_cache_none(any_engine: sa.Engine, library: Any) -> None:
    with any_engine.connect() as conn:
        _lookups(conn, library)  # warm: the cached run below compiles once, if at all
        with profile(memory=False) as cached_report:
            cached = _lookups(conn, library)
        with profile(memory=False) as report:
            uncached = _lookups(conn.execution_options(compiled_cache=None), library)
    assert uncached == cached
    found = _cache_off(report)
    assert len(found) == 1, (report.wall_s, report.layers)
    finding = found[0]
    assert "150 executions of 1 statement shape" in finding.message
    assert finding.fix is not None and "compiled_cache=None" in finding.fix
    assert "of the time outside the database" in finding.message
    assert finding.sites and finding.sites[0].function.startswith("_lookups")
    assert not _cache_off(cached_report)


def test_engine_with_query_cache_size_zero(any_engine: sa.Engine, library: Any) -> None:
    if any_engine.dialect.name == "sqlite":  # the same in-memory database, through one connection
        shared = any_engine.raw_connection().driver_connection
        engine = sa.create_engine(
            "sqlite://", query_cache_size=0, creator=lambda: shared, poolclass=sa.pool.StaticPool
        )
    else:
        engine = sa.create_engine(any_engine.url, query_cache_size=0)
    try:
        with engine.connect() as conn:
            _lookups(conn, library)
            with profile(memory=False) as report:
                _lookups(conn, library)
    finally:
        engine.dispose(close=False)
    assert {s.cache for s in report.statements} == {"no cache"}
    found = _cache_off(report)
    assert len(found) == 1, (report.wall_s, report.layers)
    finding = found[0]
    assert "query_cache_size=0" in (finding.fix or "")


def test_raw_driver_sql_is_not_flagged(any_engine: sa.Engine, library: Any) -> None:
    table = library.Book.__tablename__
    with any_engine.connect() as conn, profile(memory=False) as report:
        for i in range(150):
            conn.exec_driver_sql(f"SELECT title FROM {table} WHERE pages > {i % 20}").all()
    assert {s.cache for s in report.statements} == {"no cache"}
    assert not _cache_off(report)


CONSTRUCTS = '''\
from sqlalchemy import Integer, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class doubled(FunctionElement):
    """Twice its argument."""

    type = Integer()


class shifted(FunctionElement):
    type = Integer()

    def __init__(self, value, by):
        self.by = by  # state of its own, used when compiling
        super().__init__(value)


@compiles(doubled)
def _doubled(element, compiler, **kw):
    return f"2 * {compiler.process(element.clauses, **kw)}"


@compiles(shifted)
def _shifted(element, compiler, **kw):
    return f"{compiler.process(element.clauses, **kw)} + {int(element.by)}"


def doubles(conn):
    return [conn.scalar(select(doubled(literal(i)))) for i in range(3)]


def shifts(conn):
    return [conn.scalar(select(shifted(literal(i), i))) for i in range(3)]
'''


def test_a_construct_without_inherit_cache_is_declared_cacheable_in_its_module(tmp_path: Any) -> None:
    import importlib.util

    path = tmp_path / "constructs_module.py"
    path.write_text(CONSTRUCTS, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("constructs_module", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn, profile(memory=False, explain=False) as report:
        assert module.doubles(conn) == [0, 2, 4] and module.shifts(conn) == [0, 2, 4]
    found = {f.title.split()[0]: f for f in report.findings if f.rule == "no-cache-key"}
    assert set(found) == {"doubled", "shifted"}, [f.title for f in report.findings]
    rewrite = found["doubled"].rewrite
    assert rewrite is not None and rewrite.path == str(path)
    assert (
        '    """Twice its argument."""\n\n    inherit_cache = True\n\n    type = Integer()'
        in rewrite.rewritten
    )
    assert rewrite.rewritten.count("inherit_cache") == 1
    compile(rewrite.rewritten, str(path), "exec")
    assert found["shifted"].rewrite is None  # its own state is not in the superclass's cache key
    assert "constructs_module.py:" in found["doubled"].message
