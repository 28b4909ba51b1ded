"""What findings say is true: loaders' query counts, rows written in all, fetched batches,
index advice."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from sqlalchemy.orm import Session, declarative_base, relationship

from sqla_magic import profile
from sqla_magic.analysis import evidence, run_rules
from sqla_magic.analysis.rules import n_plus_one
from tests.analysis.test_rules import LIMITS, MAGIC, report, stmt


def test_joinedload_is_said_to_take_no_query_and_selectinload_one_more() -> None:
    Base = declarative_base()  # noqa: N806

    class Shelf(Base):  # type: ignore[misc, valid-type]
        __tablename__ = "facts_shelf"
        id = sa.Column(sa.Integer, primary_key=True)

    class Item(Base):  # type: ignore[misc, valid-type]
        __tablename__ = "facts_item"
        id = sa.Column(sa.Integer, primary_key=True)
        shelf_id = sa.Column(sa.ForeignKey("facts_shelf.id"))
        shelf = relationship(Shelf, backref="items")

    sa.orm.configure_mappers()
    source = MAGIC + "items = session.query(Item).all()\nfor i in items:\n    i.shelf\n"
    to_one = [stmt("SELECT facts_shelf", "lazy load Item.shelf", 4) for _ in range(20)]
    (found,) = n_plus_one.rule(report(stmt("SELECT facts_item"), *to_one), source, LIMITS)
    assert "`joinedload` takes no query of its own" in found.message
    assert "one more query" not in found.message
    to_many = [stmt("SELECT facts_item", "lazy load Shelf.items", 4) for _ in range(20)]
    source = MAGIC + "shelves = session.query(Shelf).all()\nfor s in shelves:\n    s.items\n"
    (found,) = n_plus_one.rule(report(stmt("SELECT facts_shelf"), *to_many), source, LIMITS)
    assert "`selectinload` takes one more query" in found.message


def test_rows_written_are_the_total_of_all_batches(any_engine: sa.Engine, table_prefix: str) -> None:
    Base = declarative_base()  # noqa: N806

    class Row(Base):  # type: ignore[misc, valid-type]
        __tablename__ = f"{table_prefix}_rows"
        id = sa.Column(sa.Integer, primary_key=True)
        value = sa.Column(sa.Integer)

    Base.metadata.create_all(any_engine)
    try:
        with profile(explain=False) as report_:
            with any_engine.begin() as conn:
                conn.execute(sa.insert(Row), [{"value": i} for i in range(5_000)])
            with Session(any_engine) as session:
                session.add_all(Row(value=i) for i in range(1_500))
                session.commit()
        (written,) = evidence.writes_by_table(report_, "INSERT", 1)
        assert written[2] == 6_500, (any_engine.dialect.name, written[2], len(written[1]))
        with any_engine.connect() as conn:
            assert conn.scalar(sa.select(sa.func.count()).select_from(Row)) == 6_500
    finally:
        Base.metadata.drop_all(any_engine)


def test_rows_read_with_fetchmany_in_batches_are_not_fetched_at_once(sqlite_engine: sa.Engine) -> None:
    table = sa.Table("facts_many", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    table.create(sqlite_engine)
    with sqlite_engine.begin() as conn:
        conn.execute(sa.insert(table), [{"id": i} for i in range(12_000)])
    with profile(explain=False) as report_, sqlite_engine.connect() as conn:
        result = conn.execute(sa.select(table))
        while result.fetchmany(1000):
            pass
        conn.execute(sa.select(table)).all()
    batched, whole = report_.statements
    assert batched.rows == whole.rows == 12_000
    assert batched.streamed and not whole.streamed
    large = [f for f in report_.findings if f.rule == "large-result"]
    assert [f.statements for f in large] == [(1,)]
    assert large[0].title == "12000 rows fetched at once"


def test_index_advice_quotes_reserved_words_and_skips_columns_already_indexed() -> None:
    from sqla_magic.analysis.rules import seq_scan
    from sqla_magic.model import Plan, PlanWarning

    Base = declarative_base()  # noqa: N806

    class Account(Base):  # type: ignore[misc, valid-type]
        __tablename__ = "facts_account"
        id = sa.Column(sa.Integer, primary_key=True)
        email = sa.Column(sa.String(80), unique=True)
        city = sa.Column(sa.String(80))

    sa.orm.configure_mappers()

    def advice(dialect: str, table: str, *columns: str) -> list[str]:
        warning = PlanWarning("seq-scan", "Seq Scan", table=table, columns=columns, rows=50_000.0)
        plan = Plan("f", dialect, False, None, (warning,))
        found = seq_scan.rule(report(stmt("SELECT x", fingerprint="f"), plans=(plan,)), "", LIMITS)
        return [f.fix or "" for f in found]

    (postgres,) = advice("postgresql", "user", "order")
    assert 'CREATE INDEX ix_user_order ON "user" ("order")' in postgres
    assert "Index('ix_user_order', 'order')" in postgres
    (mysql,) = advice("mysql", "user", "order")
    assert "CREATE INDEX ix_user_order ON user (`order`)" in mysql
    assert advice("postgresql", "facts_account", "id") == []
    assert advice("postgresql", "facts_account", "email") == []
    assert len(advice("postgresql", "facts_account", "city")) == 1


def test_a_findings_message_and_evidence_line_give_one_figure_and_its_share() -> None:
    from sqla_magic.render.summary import format_duration
    from sqla_magic.render.widget.tabs.findings import finding_card

    lazy = [stmt("SELECT book", "lazy load Author.books", 4, duration_s=0.01, fetch_s=0.002)] * 30
    whole = report(stmt("SELECT author"), *lazy)  # 0.5 s of wall time
    (found,), failures = run_rules([n_plus_one.rule], whole)
    assert not failures
    assert found.seconds is not None and abs(found.seconds - 30 * 0.012) < 1e-9
    assert found.share is not None and abs(found.share - 0.72) < 1e-9
    assert f"{evidence.ms(found.seconds)} of " in found.message  # the rule's own figure ...
    assert found.message.endswith("These statements took 360 ms, 72% of the profiled time.")  # ... the same
    card = finding_card(dataclasses.replace(whole, findings=(found,)), 0, [])
    assert f"{format_duration(found.seconds)} (72% of the profiled time)" in card["evidence"]["summary"]
