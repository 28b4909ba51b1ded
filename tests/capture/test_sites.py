"""Statement sites in the user's own modules and templates, requests of a test client,
flush origins decided from the stack."""

from __future__ import annotations

import inspect
import os

import pytest
import sqlalchemy as sa

if sa.__version__.startswith("1."):
    pytest.skip("the scenario app is written in SQLAlchemy 2.0's typed style", allow_module_level=True)

from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.util import LRUCache

from sqla_magic import profile
from sqla_magic.model import Report
from tests.scenarios.shop import services
from tests.scenarios.shop.models import Customer, db
from tests.scenarios.shop.web import create_app

SHOP = os.path.dirname(services.__file__)


def test_a_statement_run_in_a_module_has_its_site_and_the_chain_to_the_profiled_line() -> None:
    app = create_app()
    with app.app_context(), profile(explain=False) as report:
        services.order_notes(db.session)
    query, refresh = report.statements[0], report.statements[1]
    first_line = inspect.getsourcelines(services.order_notes)[1] + 1
    assert query.site is not None and query.site.file == os.path.join(SHOP, "services.py")
    assert query.site.function == "order_notes" and query.site.line == first_line
    assert refresh.site is not None and refresh.site.line == first_line + 1
    assert [s.file for s in query.stack] == [query.site.file, __file__]
    assert query.stack[-1].line == query.line
    assert Report.from_json(report.to_json()) == report


def test_a_template_line_and_the_request_of_the_test_client() -> None:
    client = create_app().test_client()
    with profile(explain=False) as report:
        client.get("/customers")
        client.get("/customer/3")
        client.get("/customer/3")
    lazy = [s for s in report.statements if s.origin.startswith("lazy load")]
    assert lazy and lazy[0].site is not None
    assert lazy[0].site.file == os.path.join(SHOP, "templates", "customers.html")
    assert lazy[0].site.line == 4  # the `{% for order in customer.orders %}` line
    assert lazy[0].stack[1].function.endswith("customers_page")
    assert {s.request for s in lazy} == {"GET /customers"}
    by_request = {(s.request, s.request_index) for s in report.statements}
    assert ("GET /customer/3", 1) in by_request and ("GET /customer/3", 2) in by_request


def test_user_packages_count_as_user_code() -> None:
    app = create_app()
    with app.app_context():
        with profile(explain=False) as plain:
            db.get_or_404(Customer, 1)
        db.session.expunge_all()
        with profile(explain=False, user_packages=["flask_sqlalchemy"]) as named:
            db.get_or_404(Customer, 1)
    assert plain.statements[0].site is not None and plain.statements[0].site.file == __file__
    site = named.statements[0].site
    assert site is not None and site.function.endswith("get_or_404")
    assert "flask_sqlalchemy" in site.file


class Base(DeclarativeBase):
    pass


class Tag(Base):
    __tablename__ = "site_tag"
    id: Mapped[int] = mapped_column(primary_key=True)


post_tags = sa.Table(
    "site_post_tag",
    Base.metadata,
    sa.Column("post_id", sa.ForeignKey("site_post.id")),
    sa.Column("tag_id", sa.ForeignKey("site_tag.id")),
)


class Post(Base):
    __tablename__ = "site_post"
    id: Mapped[int] = mapped_column(primary_key=True)
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags)


def test_flush_origin_comes_from_the_unit_of_work_on_the_stack() -> None:
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with profile(explain=False) as report:
        with Session(engine) as session:
            session.add(Post(tags=[Tag(), Tag()]))
            session.commit()
        with engine.begin() as conn:
            conn.execute(sa.insert(Tag), [{"id": 10}], execution_options={"compiled_cache": LRUCache()})
    origins = {s.sql.split("(")[0].strip(): s.origin for s in report.statements}
    assert origins["INSERT INTO site_post_tag"] == "flush"  # a many-to-many secondary row
    assert report.statements[-1].origin == "core"  # its own compiled_cache, not a flush


def test_commit_counts_as_database_and_the_unit_of_work_as_flush() -> None:
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with profile(explain=False, memory=False) as report:
        for _ in range(50):
            with Session(engine) as session:
                session.add(Post())
                session.commit()
    assert report.layers["flush"] > 0
    assert report.layers["database"] > sum(s.duration_s for s in report.statements)


def test_the_request_of_an_asgi_test_client_on_its_worker_and_event_loop_threads() -> None:
    from starlette.testclient import TestClient

    from tests.scenarios.shop.asgi import create_app, shop_engine

    engine = shop_engine(customers=3, orders_per_customer=2)
    client = TestClient(create_app(engine))
    with profile(explain=False) as report:
        client.get("/dashboard?page=2")  # a plain `def` endpoint: a worker thread
        client.get("/async/customers")  # `async def`: the event loop's thread
        client.get("/dashboard?page=2")
    requests = [(s.request, s.request_index) for s in report.statements]
    assert (
        requests
        == [("GET /dashboard?page=2", 0)] * 2
        + [("GET /async/customers", 1)] * 4
        + [("GET /dashboard?page=2", 2)] * 2
    )
    assert {s.thread for s in report.statements[:2]} != {s.thread for s in report.statements[2:6]}
    lazy = report.statements[3]
    assert lazy.origin == "lazy load Customer.orders" and lazy.site is not None
    assert "customers_async" in lazy.site.function
    engine.dispose()


def test_statements_outside_a_request_have_none_while_a_client_is_idle() -> None:
    from starlette.testclient import TestClient

    from tests.scenarios.shop.asgi import create_app, load_user, shop_engine

    engine = shop_engine(customers=2, orders_per_customer=1)
    with TestClient(create_app(engine)) as client, profile(explain=False) as report:
        client.get("/dashboard")
        with Session(engine) as session:
            load_user(session)
    assert [s.request for s in report.statements] == ["GET /dashboard", "GET /dashboard", None]
    engine.dispose()
