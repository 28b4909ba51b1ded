"""Layers: where the time went, on workloads whose answer is known."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, configure_mappers

from sqla_magic import demo, profile
from sqla_magic.model import LAYERS


def _dominant(layers: dict[str, float]) -> str:
    return max(layers, key=lambda k: layers[k])


def _assert_adds_up(report) -> None:
    assert set(report.layers) == set(LAYERS)
    assert all(v >= 0 for v in report.layers.values())
    assert sum(report.layers.values()) == pytest.approx(report.wall_s, rel=0.05)


def test_loading_50k_objects_is_orm_load(sqlite_engine, table_prefix) -> None:
    models = demo.declare(table_prefix)
    demo.populate(sqlite_engine, models, authors=2500, books_per_author=20)
    with Session(sqlite_engine) as session, profile(explain=False) as report:
        books = session.query(models.Book).all()
    assert len(books) == 50_000
    assert report.objects_loaded == {"Book": 50_000}
    _assert_adds_up(report)
    assert _dominant(dict(report.layers)) == "orm_load", report.layers
    assert report.layers["database"] + report.layers["fetch"] > 0


def test_round_trips_on_postgresql_are_database(pg_engine, table_prefix) -> None:
    table = sa.Table(
        f"{table_prefix}events",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.Integer, nullable=False),  # no index: each lookup scans
        sa.Column("payload", sa.String(50), nullable=False),
    )
    table.metadata.create_all(pg_engine)
    try:
        with pg_engine.begin() as conn:
            conn.exec_driver_sql(
                f"INSERT INTO {table.name} (kind, payload) "
                "SELECT mod(g, 500), md5(g::text) FROM generate_series(1, 60000) AS g"
            )
        with pg_engine.connect() as conn, profile(explain=False) as report:
            counts = [
                conn.execute(sa.select(sa.func.count()).where(table.c.kind == k)).scalar() for k in range(200)
            ]
        assert counts == [120] * 200
        assert len(report.statements) == 200
        _assert_adds_up(report)
        assert _dominant(dict(report.layers)) == "database", report.layers
    finally:
        table.metadata.drop_all(pg_engine)


def test_mapper_configuration_is_its_own_layer(sqlite_engine, table_prefix) -> None:
    models = demo.declare(table_prefix)
    demo.populate(sqlite_engine, models, authors=3, books_per_author=1)
    fresh = demo.declare(table_prefix + "x_")  # not configured yet
    with profile(explain=False) as report:
        configure_mappers()
    assert fresh.Author.books.property.mapper.class_ is fresh.Book
    assert report.layers["mapper_config"] > 0
    assert report.layers["mapper_config"] >= 0.5 * (report.wall_s - report.layers["python"])


def test_capture_only_layers_still_add_up(sqlite_engine, table_prefix) -> None:
    models = demo.declare(table_prefix)
    demo.populate(sqlite_engine, models, authors=20, books_per_author=2)
    with Session(sqlite_engine) as session, profile(call_tree=False, memory=False, explain=False) as report:
        session.query(models.Book).all()
    assert report.call_tree is None and report.memory is None
    _assert_adds_up(report)
    assert report.layers["database"] > 0 and report.layers["compile"] == 0


def test_commits_of_a_postgresql_insert_loop_are_database(pg_engine, table_prefix) -> None:
    """Each COMMIT waits for PostgreSQL to make the row durable: DBAPI commit time is
    `database`, not the user's Python."""
    table = sa.Table(
        f"{table_prefix}commits",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )
    table.metadata.create_all(pg_engine)
    slow_commit = f"{table_prefix}slow_commit"
    with pg_engine.begin() as conn:
        # A deferred trigger that waits 5 ms at each COMMIT: the commits' share of the time is
        # then the server's, whatever the disk (an fsync on a fast disk takes well under 1 ms).
        conn.exec_driver_sql(
            f"CREATE FUNCTION {slow_commit}() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(0.005); RETURN NULL; END $$"
        )
        conn.exec_driver_sql(
            f"CREATE CONSTRAINT TRIGGER {slow_commit} AFTER INSERT ON {table.name} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {slow_commit}()"
        )
    try:
        with pg_engine.begin() as conn:  # imports and the compiled cache warmed first
            conn.execute(sa.insert(table), {"value": -1})
        with pg_engine.connect() as conn, profile(explain=False, memory=False) as report:
            for value in range(100):
                with conn.begin():
                    conn.execute(sa.insert(table), {"value": value})
        _assert_adds_up(report)
        statements_s = sum(s.duration_s + s.fetch_s for s in report.statements)
        assert report.layers["database"] > statements_s + 0.4  # the 100 COMMITs are in it too
        assert report.layers["database"] > report.layers["python"], report.layers
        with pg_engine.connect() as conn:
            assert conn.scalar(sa.select(sa.func.count()).select_from(table)) == 101
    finally:
        table.metadata.drop_all(pg_engine)
        with pg_engine.begin() as conn:
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {slow_commit}()")


def test_the_lazy_loads_of_an_n_plus_one_are_orm_load(sqlite_engine, table_prefix) -> None:
    models = demo.declare(table_prefix)
    demo.populate(sqlite_engine, models, authors=500, books_per_author=3)
    with Session(sqlite_engine) as session, profile(explain=False, memory=False) as report:
        total = sum(len(author.books) for author in session.scalars(sa.select(models.Author)))
    assert total == 1500 and len(report.statements) == 501
    _assert_adds_up(report)
    assert report.call_tree is not None
    loading = sum(n.total_s for n in report.call_tree.walk() if n.name == "_emit_lazyload")  # never nested
    assert loading >= 0.5 * report.wall_s, loading  # the N+1's time is the loader's
    # The loader's bookkeeping (statement, session and engine paths) is ORM loading, not
    # the user's own Python; what runs inside it of the other layers stays theirs.
    below = sum(report.layers[k] for k in ("compile", "database", "fetch", "mapper_config"))
    assert report.layers["orm_load"] >= 0.8 * (loading - below), report.layers
    assert report.layers["python"] <= 0.25 * report.wall_s, report.layers


def test_file_classifier_answers_as_classify() -> None:
    from sqla_magic import _compat
    from sqla_magic.capture.layers import classify, file_classifier

    rules = (
        _compat.ORM_LOAD_FUNCTIONS,
        _compat.FLUSH_FUNCTIONS,
        _compat.MAPPER_CONFIG_FUNCTIONS,
        _compat.COMPILE_FUNCTIONS,
    )
    tails = {tail for functions in rules for tail, _ in functions}
    tails |= {*_compat.ORM_LOAD_FILES, *_compat.FLUSH_FILES, *_compat.COMPILE_FILES}
    tails |= {"engine/default.py", "sql/compiler.pyx", "ext/asyncio/orm/loading.py"}
    names = {name for functions in rules for _, name in functions}
    names |= {*_compat.DATABASE_NAMES, *_compat.COMPILE_NAMES, *_compat.FETCH_NAMES}
    names |= {"x" + suffix for suffix in _compat.COMPILE_NAME_SUFFIXES}
    names |= {"other", "<module>", "<method 'fetchall' of 'sqlite3.Cursor' objects>"}
    files = [
        prefix + tail
        for prefix in ("/v/site-packages/sqlalchemy/", "/a/sqlalchemy/b/sqlalchemy/")
        for tail in tails
    ]
    files += [file.replace("/", "\\") for file in files]
    files += [
        "~",
        "/w/sqla_magic/capture/statements.py",
        "/w/other.py",
        "<cell>",
        "/x/sqlalchemy_utils/orm/loading.py",
    ]
    for file in files:
        layer_of = file_classifier(file)
        for name in names:
            assert layer_of(name) == classify(file, name), (file, name)
