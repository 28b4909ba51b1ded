"""Service functions as an application writes them: each anti-pattern next to its fix."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, selectinload, undefer

from tests.scenarios.shop.models import Customer, Order


def order_totals(session: Session) -> dict[str, int]:
    customers = session.scalars(select(Customer)).all()
    return {c.name: sum(o.total for o in c.orders) for c in customers}


def order_totals_eager(session: Session) -> dict[str, int]:
    customers = session.scalars(select(Customer).options(selectinload(Customer.orders))).all()
    return {c.name: sum(o.total for o in c.orders) for c in customers}


def order_counts(session: Session) -> dict[int, int]:
    counts = {}
    for customer in session.scalars(select(Customer)):
        counts[customer.id] = session.scalar(select(func.count()).where(Order.customer_id == customer.id))
    return counts


def order_counts_grouped(session: Session) -> dict[int, int]:
    rows = session.execute(select(Order.customer_id, func.count()).group_by(Order.customer_id))
    return {customer_id: count for customer_id, count in rows}


def customers_by_id(session: Session, ids: list[int]) -> list[Customer]:
    return [session.get(Customer, i) for i in ids]


def order_notes(session: Session) -> list[str]:
    orders = session.scalars(select(Order)).all()
    return [order.note for order in orders]


def order_notes_undeferred(session: Session) -> list[str]:
    orders = session.scalars(select(Order).options(undefer(Order.note))).all()
    return [order.note for order in orders]


def add_orders(session: Session, customer_id: int, totals: list[int]) -> None:
    for total in totals:
        session.add(Order(customer_id=customer_id, total=total))
        session.commit()


def add_orders_once(session: Session, customer_id: int, totals: list[int]) -> None:
    for total in totals:
        session.add(Order(customer_id=customer_id, total=total))
    session.commit()


def add_orders_per_session(engine: object, customer_id: int, totals: list[int]) -> None:
    for total in totals:
        with Session(engine) as session:  # type: ignore[call-overload]
            session.add(Order(customer_id=customer_id, total=total))
            session.commit()


def import_orders_row_by_row(session: Session, rows: list[dict[str, int]]) -> None:
    for row in rows:
        session.execute(insert(Order), [row])
    session.commit()


def import_orders(session: Session, rows: list[dict[str, int]]) -> None:
    session.execute(insert(Order), rows)
    session.commit()


def raise_totals(session: Session) -> None:
    for order in session.scalars(select(Order)):
        order.total = order.total + 1
    session.commit()


def current_customer(session: Session, customer_id: int) -> Customer | None:
    return session.get(Customer, customer_id, populate_existing=True)


def totals_after_commit(session: Session) -> list[int]:
    orders = session.scalars(select(Order).order_by(Order.id)).all()
    session.commit()
    return [order.total for order in orders]


def totals_before_commit(session: Session) -> list[int]:
    orders = session.scalars(select(Order).order_by(Order.id)).all()
    totals = [order.total for order in orders]
    session.commit()
    return totals


def order_sums(customers: list[Customer]) -> dict[str, int]:
    return {c.name: sum(o.total for o in c.orders) for c in customers}
