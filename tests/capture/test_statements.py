"""Statement capture against real databases, checked against what SQLAlchemy itself logs."""

from __future__ import annotations

import gc
import logging
import re
import threading
import weakref
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import demo, profile
from sqla_magic.capture import statements
from sqla_magic.capture.statements import listeners_installed

_LOGGED_CACHE = re.compile(r"^\[(generated|cached|no key|caching disabled|raw sql|dialect)")
_WORDS = {
    "generated": "generated",
    "cached": "cached",
    "no key": "no key",
    "caching disabled": "no cache",
    "raw sql": "no cache",
    "dialect": "no cache",
}


class _EngineLog(logging.Handler):
    """SQLAlchemy's own account of each execution: the cache words of its engine log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.cache: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = _LOGGED_CACHE.match(record.getMessage())
        if match:
            self.cache.append(_WORDS[match.group(1)])


@pytest.fixture
def engine_log() -> Iterator[_EngineLog]:
    handler = _EngineLog()
    logger = logging.getLogger("sqlalchemy.engine.Engine")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@pytest.fixture
def library(
    any_engine: sa.engine.Engine, table_prefix: str
) -> Iterator[tuple[sa.engine.Engine, demo.DemoModels]]:
    models = demo.declare(table_prefix)
    demo.populate(any_engine, models, authors=30, books_per_author=4)
    try:
        yield any_engine, models
    finally:
        models.metadata.drop_all(any_engine)


def test_n_plus_one_matches_sqlalchemy_log(library, engine_log) -> None:
    engine, models = library
    with Session(engine) as session, profile(explain=False) as report:
        authors = session.query(models.Author).order_by(models.Author.id).all()
        pages = [len(author.books) for author in authors]
    assert pages == [4] * 30
    statements = report.statements
    assert len(statements) == 31
    assert [s.cache for s in statements] == engine_log.cache
    assert statements[0].origin == "query"
    assert {s.origin for s in statements[1:]} == {"lazy load Author.books"}
    assert statements[0].rows == 30
    assert [s.rows for s in statements[1:]] == [4] * 30
    assert len({s.fingerprint for s in statements[1:]}) == 1
    assert statements[0].fingerprint != statements[1].fingerprint
    assert statements[1].line == statements[2].line
    assert statements[0].line is not None and statements[1].line == statements[0].line + 1
    assert report.objects_loaded == {"Author": 30, "Book": 120}
    assert all(s.dialect == engine.dialect.name for s in statements)
    groups = report.groups_frame()
    assert sorted(groups["count"]) == [1, 30]
    assert groups["rows"].sum() == 150
    assert not listeners_installed()


def test_dml_rowcounts_and_flush_origin(library, engine_log) -> None:
    engine, models = library
    with Session(engine) as session, profile(explain=False) as report:
        result = session.execute(sa.update(models.Book).where(models.Book.author_id <= 3).values(pages=1))
        updated = result.rowcount
        session.add(models.Author(id=1000, name="new"))
        session.flush()
        session.rollback()
        session.close()
    assert updated == 12
    update, insert = report.statements[0], report.statements[-1]
    assert update.rowcount == 12 and update.origin == "orm statement"
    assert insert.origin == "flush" and insert.rowcount == 1
    assert [s.cache for s in report.statements] == engine_log.cache


def test_executemany_and_core(library) -> None:
    engine, models = library
    rows = [{"author_id": 1, "title": f"t{i}", "pages": i} for i in range(50)]
    with engine.connect() as conn, profile(explain=False) as report:
        transaction = conn.begin()
        conn.execute(models.Book.__table__.insert(), rows)
        count = conn.execute(sa.select(sa.func.count()).select_from(models.Book.__table__)).scalar()
        transaction.rollback()
    assert count == 170
    inserts = [s for s in report.statements if s.sql.lstrip().upper().startswith("INSERT")]
    # One execution per batch; SQLAlchemy 2.1 hands each batch over as one parameter set.
    assert inserts and all(s.executemany for s in inserts)
    assert all(1 <= s.param_sets <= 50 for s in inserts)
    assert all(s.origin == "core" for s in report.statements)
    assert report.statements[-1].rows == 1


def test_driver_sql_is_uncached_and_errors_are_recorded(sqlite_engine) -> None:
    with (
        sqlite_engine.connect() as conn,
        pytest.raises(sa.exc.OperationalError),
        profile(explain=False) as report,
    ):
        conn.exec_driver_sql("SELECT 1").all()
        conn.execute(sa.text("SELECT * FROM missing_table")).all()
    assert report.statements[0].cache == "no cache"
    assert report.statements[1].error is not None and "missing_table" in report.statements[1].error
    assert report.error is not None and report.error.type == "OperationalError"


def test_engine_filter_and_threads(sqlite_engine) -> None:
    other = sa.create_engine("sqlite://")

    def work() -> None:
        with sqlite_engine.connect() as conn:
            conn.execute(sa.text("SELECT 2")).all()

    with profile(engine=sqlite_engine, explain=False) as report:
        with other.connect() as conn:
            conn.execute(sa.text("SELECT 1")).all()
        worker = threading.Thread(target=work, name="worker-7")
        worker.start()
        worker.join()
    assert [(s.sql, s.thread) for s in report.statements] == [("SELECT 2", "worker-7")]


def test_password_is_hidden() -> None:
    engine = sa.create_engine("sqlite://", creator=lambda: __import__("sqlite3").connect(":memory:"))
    engine.url = sa.engine.make_url("sqlite://scott:tiger-secret@/")
    with profile(explain=False) as report, engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    assert "tiger-secret" not in report.statements[0].engine
    assert "tiger-secret" not in report.to_json()


def test_long_parameters_are_truncated_not_mutated(sqlite_engine) -> None:
    big = "x" * 100_000
    params = {"v": big}
    with sqlite_engine.connect() as conn, profile(explain=False) as report:
        conn.execute(sa.text("SELECT :v"), params).all()
    shown = report.statements[0].params
    assert params["v"] is big
    assert isinstance(shown, tuple) and len(shown[0]) < 300 and "more" not in shown[0]
    assert "+99800 chars" in shown[0]


def test_cache_key_missing_is_reported(sqlite_engine) -> None:
    class Loose(sa.types.TypeDecorator):  # no cache_ok: SQLAlchemy cannot cache
        impl = sa.String

    table = sa.Table(
        "loose", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", Loose)
    )
    table.create(sqlite_engine)
    with pytest.warns(sa.exc.SAWarning), sqlite_engine.connect() as conn, profile(explain=False) as report:
        for _ in range(2):
            conn.execute(sa.select(table).where(table.c.v == "a")).all()
    assert [s.cache for s in report.statements] == ["no key", "no key"]
    assert any("cache_ok" in w.message for w in report.warnings)


def test_orm_flush_batches_are_recorded_as_sent(any_engine, table_prefix) -> None:
    models = demo.declare(table_prefix)
    demo.populate(any_engine, models, authors=1, books_per_author=0)
    with Session(any_engine) as session, profile(explain=False) as report:
        session.add_all([models.Book(author_id=1, title=f"t{i}", pages=i) for i in range(40)])
        session.flush()
        session.rollback()
    inserts = [s for s in report.statements if s.origin == "flush"]
    assert inserts
    # Each execution reports what its cursor received: never more parameter sets than rows.
    assert sum(s.param_sets for s in inserts) <= 40
    assert all(s.sql.lstrip().upper().startswith("INSERT") for s in inserts)


def test_a_users_do_execute_listener_still_runs_and_sql_runs_once(sqlite_engine) -> None:
    """The capture makes the DBAPI call inside the dialect's `do_execute` event.  The
    user's engine-level listeners come after its class-level one: they must still be
    called, nothing may run twice, and a statement one of them executes itself (returning
    True) is recorded like any other."""
    seen: list[str] = []

    def watch(cursor, statement, parameters, context):  # type: ignore[no-untyped-def]
        seen.append(statement)
        return False

    def handle(cursor, statement, parameters, context):  # type: ignore[no-untyped-def]
        if "handled" in statement:
            cursor.execute(statement, parameters)
            return True
        return False

    sa.event.listen(sqlite_engine, "do_execute", watch)
    sa.event.listen(sqlite_engine, "do_execute", handle)
    try:
        with sqlite_engine.begin() as conn, profile(explain=False, findings=False) as report:
            conn.exec_driver_sql("CREATE TABLE once (n INTEGER)")
            conn.execute(sa.text("INSERT INTO once VALUES (:n)"), {"n": 1})
            conn.execute(sa.text("SELECT 'handled' FROM once")).all()
            rows = conn.execute(sa.text("SELECT count(*) FROM once")).scalar()
    finally:
        sa.event.remove(sqlite_engine, "do_execute", watch)
        sa.event.remove(sqlite_engine, "do_execute", handle)
    assert rows == 1
    assert len(seen) == 4
    assert [s.sql for s in report.statements] == seen
    assert [s.rows for s in report.statements] == [None, None, 1, 1]


def test_origins_of_session_and_connection_executions(library) -> None:
    engine, models = library
    with Session(engine) as session, profile(explain=False, findings=False) as report:
        session.execute(sa.select(models.Author).limit(2)).scalars().all()
        session.execute(sa.text("SELECT 1")).all()
        session.execute(sa.delete(models.Book).where(models.Book.id < 0))
        with engine.connect() as conn:
            conn.execute(sa.select(models.Author).limit(2)).all()
        session.rollback()
    assert [s.origin for s in report.statements] == ["query", "core", "orm statement", "core"]


@pytest.mark.postgres
def test_a_pre_executed_default_leaves_the_main_statement_intact(pg_engine, table_prefix) -> None:
    """Without RETURNING, SQLAlchemy runs `SELECT nextval(...)` first on the same context
    and cursor, then the INSERT: the INSERT's result must be the plain DML result."""
    metadata = sa.MetaData()
    sequence = sa.Sequence(f"{table_prefix}seq")
    table = sa.Table(
        f"{table_prefix}pre",
        metadata,
        sa.Column("id", sa.Integer, sequence, primary_key=True),
        sa.Column("name", sa.String(20)),
        implicit_returning=False,
    )
    metadata.create_all(pg_engine)
    try:
        with pg_engine.begin() as conn, profile(explain=False, findings=False) as report:
            result = conn.execute(table.insert().values(name="a"))
            assert not result.returns_rows
            assert result.inserted_primary_key == (1,)
            assert result.rowcount == 1
            names = conn.execute(sa.select(table.c.name)).scalars().all()
        assert names == ["a"]
        nextval, insert, select = report.statements
        assert "nextval" in nextval.sql and nextval.rows == 1 and not nextval.executemany
        assert insert.sql.startswith("INSERT") and insert.rows is None and insert.rowcount == 1
        assert select.rows == 1
    finally:
        metadata.drop_all(pg_engine)


def test_objects_loaded_are_counted_per_profile_and_nothing_is_held_after(library) -> None:
    engine, models = library
    with Session(engine) as session, profile(explain=False, findings=False) as outer:
        session.scalars(sa.select(models.Author)).all()
        with profile(explain=False, findings=False) as inner:
            session.scalars(sa.select(models.Book).where(models.Book.author_id <= 5)).all()
        session.scalars(sa.select(models.Book).where(models.Book.author_id > 5)).all()
    assert inner.objects_loaded == {"Book": 20}
    assert outer.objects_loaded == {"Author": 30, "Book": 120}
    assert not statements._loaded_classes and not statements._loaded_totals


def test_no_object_loaded_inside_a_profile_is_kept_alive_by_it(library) -> None:
    engine, models = library
    with Session(engine) as session, profile(explain=False, findings=False) as report:
        books = session.scalars(sa.select(models.Book)).all()
        states = [weakref.ref(sa.inspect(book)) for book in books]
        del books
        session.expunge_all()
        gc.collect()
        alive = [state for state in states if state() is not None]  # the report is not built yet
    assert len(states) == 120 and alive == []
    assert report.objects_loaded == {"Book": 120}


def test_streamed_objects_are_tallied_as_they_go(library, monkeypatch) -> None:
    engine, models = library
    monkeypatch.setattr(statements, "LOADED_CLASSES_HELD", 10)
    held: list[int] = []
    with Session(engine) as session, profile(explain=False, findings=False) as report:
        for index, _book in enumerate(session.scalars(sa.select(models.Book).execution_options(yield_per=8))):
            if index % 8 == 7:
                held.append(len(statements._loaded_classes))
    assert report.objects_loaded == {"Book": 120}
    # Each batch's classes are tallied at the next fetch: never more than a threshold and a batch.
    assert held and max(held) <= 10 + 8


def test_one_statement_object_keeps_the_origin_of_each_execution(library) -> None:
    engine, models = library
    authors = sa.select(models.Author).order_by(models.Author.id).limit(3)
    with Session(engine) as session, profile(explain=False, findings=False) as report:
        loaded = session.scalars(authors).all()
        with engine.connect() as conn:
            conn.execute(authors).all()
        books = [author.books for author in loaded]
        session.scalars(authors).all()
        session.expire(loaded[0])
        session.expire(books[0][0])
        loaded[0].name, books[0][0].title
    assert [s.origin for s in report.statements] == [
        "query",
        "core",
        *["lazy load Author.books"] * 3,
        "query",
        "refresh Author",
        "refresh Book",
    ]


def test_an_executemany_keeps_the_sets_it_shows(sqlite_engine) -> None:
    """A bulk insert's record keeps the first parameter sets, the ones the report shows; the
    others are the driver's alone and are freed with its call, not held until the report."""
    from sqla_magic.capture.params import MAX_SETS
    from sqla_magic.pipeline import Options, Profiler

    rows = [(i, f"title {i}" * 20) for i in range(5000)]
    with sqlite_engine.connect() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE bulk (id INTEGER, title TEXT)")
        profiler = Profiler(Options(explain=False, findings=False))
        profiler.start()
        conn.exec_driver_sql("INSERT INTO bulk VALUES (?, ?)", rows)
        # named parameters: SQLAlchemy hands the driver tuples of its own making
        conn.execute(sa.text("INSERT INTO bulk VALUES (:i, :t)"), [{"i": i, "t": t} for i, t in rows])
        recording = profiler.stop()
    shown = (*rows[:MAX_SETS], f"... {5000 - MAX_SETS} more parameter sets")
    for record, statement in zip(recording.records, recording.report.statements, strict=True):
        assert record.sets == statement.param_sets == 5000
        assert list(map(tuple, record.parameters)) == rows[:MAX_SETS]
        assert statement.params == shown
    memory = recording.report.memory
    # all 5,000 sets held would be over 300 kB here
    assert memory is not None and memory.profiler_bytes < 20_000, memory


def test_an_insertmanyvalues_batch_is_one_set_kept_whole(sqlite_engine) -> None:
    """SQLAlchemy 2.0 sends an INSERT .. RETURNING of many rows as batches of one flat set,
    marked executemany: each is kept whole, shown as one set and explained, whatever its
    first value (a NULL first value once made it look like a list of sets)."""
    if sa.__version__.startswith("1."):
        pytest.skip("insertmanyvalues is SQLAlchemy 2.0's")
    metadata = sa.MetaData()
    columns = [sa.Column(f"c{i}", sa.String) for i in range(4)]
    table = sa.Table("batched", metadata, sa.Column("id", sa.Integer, primary_key=True), *columns)
    rows = [{"c0": None, "c1": "a", "c2": "b", "c3": f"row {i}"} for i in range(20)]
    with sqlite_engine.connect() as conn:
        metadata.create_all(conn)
        with profile() as report:
            ids = conn.execute(sa.insert(table).returning(table.c.id), rows).scalars().all()
        conn.rollback()
    assert len(ids) == 20
    inserts = [s for s in report.statements if s.sql.lstrip().upper().startswith("INSERT")]
    assert inserts and all(s.executemany and s.param_sets == 1 for s in inserts)
    assert all(len(s.params) == s.sql.count("?") for s in inserts)
    assert inserts[0].params[:4] == (None, "a", "b", "row 0")
    plans = [p for p in report.plans if p.statement is not None and report.statements[p.statement] in inserts]
    assert plans and all(p.root is not None for p in plans), [p.note for p in plans]
