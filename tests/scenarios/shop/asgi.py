"""The shop as an ASGI (Starlette) app with a plain SQLAlchemy engine; tests drive it
through Starlette's `TestClient`, which FastAPI's is.  Plain `def` endpoints run on a
worker thread, `async def` ones on the event loop's thread."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.scenarios.shop.models import Customer, Order, db


def shop_engine(customers: int = 30, orders_per_customer: int = 4) -> Engine:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    db.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(Customer(id=i, name=f"c{i}", city=f"town{i % 3}") for i in range(1, customers + 1))
        session.add_all(
            Order(customer_id=i % customers + 1, total=i, note=f"n{i}")
            for i in range(customers * orders_per_customer)
        )
        session.commit()
    return engine


def load_user(session: Session) -> Customer | None:
    """What every request of an app does once: read the signed-in user."""
    return session.scalars(select(Customer).where(Customer.id == 1)).first()


def order_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Order)) or 0


def create_app(engine: Engine) -> Starlette:
    def dashboard(request: Request) -> JSONResponse:
        with Session(engine) as session:
            user = load_user(session)
            return JSONResponse({"user": user.name if user else None, "orders": order_count(session)})

    def customers(request: Request) -> JSONResponse:
        with Session(engine) as session:
            load_user(session)
            rows = session.scalars(select(Customer)).all()
            return JSONResponse({c.name: len(c.orders) for c in rows})

    def counts_again(request: Request) -> JSONResponse:
        with Session(engine) as session:
            return JSONResponse([order_count(session) for _ in range(5)])

    async def customers_async(request: Request) -> JSONResponse:
        with Session(engine) as session:
            rows = session.scalars(select(Customer)).all()
            return JSONResponse({c.name: len(c.orders) for c in rows})

    return Starlette(
        routes=[
            Route("/dashboard", dashboard),
            Route("/customers", customers),
            Route("/counts", counts_again),
            Route("/async/customers", customers_async),
        ]
    )
