"""column-load: deferred and expired attributes loaded per object, told apart from the
statements, on hand-built reports and on real databases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, declarative_base, deferred

from sqla_magic import profile
from sqla_magic.analysis.rules import column_load
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Report, Site, Statement

LIMITS = Thresholds()


def _refresh(sql: str, index: int, **extra: Any) -> Statement:
    values: dict[str, Any] = dict(
        sql=sql,
        params=(index,),
        duration_s=0.002,
        rowcount=-1,
        executemany=False,
        fingerprint=sql,
        cache="cached",
        line=4,
        origin="refresh Ticket",
        engine="sqlite://",
        thread="MainThread",
        site=Site("app/views.py", 12, "summaries"),
    )
    values.update(extra)
    return Statement(**values)


def test_one_column_per_object_reads_as_deferred() -> None:
    sql = "SELECT ticket.body AS ticket_body FROM ticket WHERE ticket.id = ?"
    report = Report(wall_s=0.1, cpu_s=0.1, statements=tuple(_refresh(sql, i) for i in range(20)))
    (finding,) = column_load.rule(report, "", LIMITS)
    assert finding.rule == "column-load" and len(finding.statements) == 20
    assert "`app/views.py:12` in `summaries`" in finding.message and "`Ticket.body`" in finding.message
    assert finding.fix is not None and "undefer(Ticket.body)" in finding.fix
    assert finding.seconds == pytest.approx(0.04)


def test_whole_rows_per_object_read_as_expired() -> None:
    sql = "SELECT ticket.id AS ticket_id, ticket.title AS ticket_title FROM ticket WHERE ticket.id = ?"
    report = Report(wall_s=0.1, cpu_s=0.1, statements=tuple(_refresh(sql, i) for i in range(20)))
    (finding,) = column_load.rule(report, "", LIMITS)
    assert finding.fix is not None and "expire_on_commit=False" in finding.fix
    assert "Expired Ticket" in finding.title


def test_few_loads_and_other_requests_stay_quiet() -> None:
    sql = "SELECT ticket.body AS ticket_body FROM ticket WHERE ticket.id = ?"
    few = Report(wall_s=0.1, cpu_s=0.1, statements=tuple(_refresh(sql, i) for i in range(9)))
    assert column_load.rule(few, "", LIMITS) == []
    spread = tuple(_refresh(sql, i, request=f"GET /t/{i}", request_index=i) for i in range(20))
    assert column_load.rule(Report(wall_s=0.1, cpu_s=0.1, statements=spread), "", LIMITS) == []


@pytest.fixture
def tickets(any_engine: sa.Engine, table_prefix: str) -> Iterator[Any]:
    base: Any = declarative_base()

    class Ticket(base):  # type: ignore[misc,valid-type]
        __tablename__ = f"{table_prefix}ticket"
        id = sa.Column(sa.Integer, primary_key=True)
        title = sa.Column(sa.String(50), nullable=False)
        body = deferred(sa.Column(sa.Text, nullable=False))

    base.metadata.create_all(any_engine)
    with Session(any_engine) as session:
        rows = [{"id": i, "title": f"t{i}", "body": f"b{i}"} for i in range(1, 31)]
        session.execute(sa.insert(Ticket), rows)
        session.commit()
    sa.orm.configure_mappers()
    try:
        yield Ticket
    finally:
        base.metadata.drop_all(any_engine)


def _column_loads(report: Report) -> list[Any]:
    return [f for f in report.findings if f.rule == "column-load"]


def test_deferred_column_read_per_object(any_engine: sa.Engine, tickets: Any) -> None:
    with Session(any_engine) as session, profile(memory=False) as report:
        bodies = [t.body for t in session.scalars(sa.select(tickets).order_by(tickets.id)).all()]
    (finding,) = _column_loads(report)
    assert finding.title == "Deferred Ticket.body loaded one object at a time"
    assert "mapped with `deferred()`" in finding.message and len(finding.statements) == 30
    site = finding.sites[0]
    assert site.file == __file__ and "test_deferred_column_read_per_object" in site.function
    with Session(any_engine) as session, profile(memory=False) as fixed:
        query = sa.select(tickets).options(sa.orm.undefer(tickets.body)).order_by(tickets.id)
        undeferred = [t.body for t in session.scalars(query).all()]
    assert undeferred == bodies and not _column_loads(fixed) and len(fixed.statements) == 1


def test_column_left_out_by_a_loader_option(any_engine: sa.Engine, tickets: Any) -> None:
    with Session(any_engine) as session, profile(memory=False) as report:
        query = sa.select(tickets).options(sa.orm.load_only(tickets.id)).order_by(tickets.id)
        titles = [t.title for t in session.scalars(query).all()]
    (finding,) = _column_loads(report)
    assert "left out by the query's loader options" in finding.message
    assert finding.fix is not None and "undefer(Ticket.title)" in finding.fix
    assert titles[0] == "t1"


def test_expired_after_commit(any_engine: sa.Engine, tickets: Any) -> None:
    with Session(any_engine) as session, profile(memory=False) as report:
        loaded = session.scalars(sa.select(tickets).order_by(tickets.id)).all()
        for ticket in loaded:
            ticket.title = ticket.title.upper()
        session.commit()
        titles = [t.title for t in loaded]
    (finding,) = _column_loads(report)
    assert finding.title == "Expired Ticket objects loaded again one at a time"
    assert finding.rewrite is None  # where the commit goes is the user's decision
    assert finding.fix is not None and "expire_on_commit=False" in finding.fix
    with Session(any_engine, expire_on_commit=False) as session, profile(memory=False) as fixed:
        loaded = session.scalars(sa.select(tickets).order_by(tickets.id)).all()
        for ticket in loaded:
            ticket.title = ticket.title.lower()
        session.commit()
        lowered = [t.title for t in loaded]
    assert lowered == [t.lower() for t in titles] and not _column_loads(fixed)


def test_no_rewrite_beside_a_defer_of_its_own_or_for_attributes_expired_one_by_one(
    any_engine: sa.Engine, tickets: Any
) -> None:
    with Session(any_engine) as session, profile(memory=False) as report:
        query = sa.select(tickets).options(sa.orm.defer(tickets.title)).order_by(tickets.id)
        titles = [t.title for t in session.scalars(query).all()]
    (finding,) = _column_loads(report)
    assert finding.rewrite is None and titles[0] == "t1"  # undefer beside defer: refused by 2.x
    with Session(any_engine) as session, profile(memory=False) as report:
        loaded = session.scalars(sa.select(tickets).order_by(tickets.id)).all()
        for ticket in loaded:
            session.expire(ticket, ["title"])
        titles = [t.title for t in loaded]
    (finding,) = _column_loads(report)
    assert finding.rewrite is None and "expired one by one" in finding.message
