"""Service functions as an application writes them: each anti-pattern next to its fix."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Integer, MetaData, delete, exists, func, insert, select, update
from sqlalchemy.ext.automap import automap_base
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, selectinload, undefer
from sqlalchemy.sql.functions import FunctionElement

from tests.scenarios.shop.models import Customer, Order, Product, Shipment, Supplier, Warehouse


def order_totals(session: Session) -> dict[str, int]:
    customers = session.scalars(select(Customer)).all()
    return {c.name: sum(o.total for o in c.orders) for c in customers}


def order_totals_eager(session: Session) -> dict[str, int]:
    customers = session.scalars(select(Customer).options(selectinload(Customer.orders))).all()
    return {c.name: sum(o.total for o in c.orders) for c in customers}


def customer_names(session: Session) -> list[str]:
    customers = session.scalars(select(Customer).options(selectinload(Customer.orders))).all()
    return [customer.name for customer in customers]


def customer_names_plain(session: Session) -> list[str]:
    customers = session.scalars(select(Customer)).all()
    return [customer.name for customer in customers]


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
    return [f"{order.note} ({order.id}, {order.customer_id}: {order.total})" for order in orders]


def order_notes_undeferred(session: Session) -> list[str]:
    orders = session.scalars(select(Order).options(undefer(Order.note))).all()
    return [f"{order.note} ({order.id}, {order.customer_id}: {order.total})" for order in orders]


def order_totals_after_commit(session: Session) -> list[tuple[int, int, int]]:
    orders = session.scalars(select(Order).order_by(Order.id)).all()
    session.commit()
    return [(order.id, order.customer_id, order.total) for order in orders]


def order_totals_before_commit(session: Session) -> list[tuple[int, int, int]]:
    orders = session.scalars(select(Order).order_by(Order.id)).all()
    totals = [(order.id, order.customer_id, order.total) for order in orders]
    session.commit()
    return totals


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


def raise_totals_at_once(session: Session) -> None:
    session.execute(update(Order).values(total=Order.total + 1))
    session.commit()


def count_big_orders(session: Session) -> int:
    return len(session.scalars(select(Order).where(Order.total > 10)).all())


def count_big_orders_in_sql(session: Session) -> int:
    return session.scalar(select(func.count()).where(Order.total > 10)) or 0


def has_big_order(session: Session) -> bool:
    return session.scalars(select(Order).where(Order.total > 100)).first() is not None


def has_big_order_exists(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(Order.total > 100))))


def order_total_list(session: Session) -> list[int]:
    return [order.total for order in session.scalars(select(Order)).all()]


def order_total_list_columns(session: Session) -> list[int]:
    return list(session.scalars(select(Order.total)).all())


def grand_total(session: Session) -> int:
    total = 0
    for row in session.execute(select(Order.id, Order.total)):
        total += row.total
    return total


def grand_total_streamed(session: Session) -> int:
    total = 0
    for row in session.execute(select(Order.id, Order.total).execution_options(yield_per=1000)):
        total += row.total
    return total


def shares_of_best(session: Session, customer_ids: list[int]) -> dict[int, float]:
    shares = {}
    for customer_id in customer_ids:
        best = session.scalar(select(func.max(Order.total)))
        shares[customer_id] = customer_id / (best or 1)
    return shares


def shares_of_best_once(session: Session, customer_ids: list[int]) -> dict[int, float]:
    best = session.scalar(select(func.max(Order.total)))
    return {customer_id: customer_id / (best or 1) for customer_id in customer_ids}


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


def close_suppliers(session: Session, ids: list[int]) -> None:
    for supplier in session.scalars(select(Supplier).where(Supplier.id.in_(ids))):
        session.delete(supplier)
    session.commit()


def close_suppliers_in_sql(session: Session, ids: list[int]) -> None:
    session.execute(delete(Product).where(Product.supplier_id.in_(ids)))
    session.execute(delete(Supplier).where(Supplier.id.in_(ids)))
    session.commit()


def close_warehouses(session: Session, ids: list[int]) -> None:
    for warehouse in session.scalars(select(Warehouse).where(Warehouse.id.in_(ids))):
        session.delete(warehouse)
    session.commit()


def shipment_counts(session: Session) -> dict[int, int]:
    return {supplier.id: supplier.shipments.count() for supplier in session.scalars(select(Supplier))}


def shipment_counts_grouped(session: Session) -> dict[int, int]:
    rows = session.execute(select(Shipment.supplier_id, func.count()).group_by(Shipment.supplier_id))
    return {supplier_id: count for supplier_id, count in rows}


class ZeroIfNull(FunctionElement[int]):
    """A custom SQL function that does not say whether it may be cached."""

    type = Integer()
    name = "zero_if_null"


class ZeroIfNullCached(ZeroIfNull):
    inherit_cache = True


@compiles(ZeroIfNull)
def _compile_zero_if_null(element: Any, compiler: Any, **kw: Any) -> str:
    return f"coalesce({compiler.process(element.clauses, **kw)}, 0)"


def shipped_weights(session: Session, supplier_ids: list[int]) -> dict[int, int]:
    weight = ZeroIfNull(func.sum(Shipment.weight))
    return {i: session.scalar(select(weight).where(Shipment.supplier_id == i)) or 0 for i in supplier_ids}


def shipped_weights_cached(session: Session, supplier_ids: list[int]) -> dict[int, int]:
    weight = ZeroIfNullCached(func.sum(Shipment.weight))
    return {i: session.scalar(select(weight).where(Shipment.supplier_id == i)) or 0 for i in supplier_ids}


def order_lines(engine: Engine, order_ids: list[int], cache: bool = True) -> list[Any]:
    with engine.connect() as connection:
        if not cache:
            connection = connection.execution_options(compiled_cache=None)
        return [
            connection.execute(
                select(Order.id, Customer.name, func.upper(Customer.city))
                .join(Customer, Order.customer_id == Customer.id)
                .where(Order.id == i, Customer.name.like("c%"))
                .order_by(Order.id)
            ).all()
            for i in order_ids
        ]


def supplier_report_job(session: Session) -> int:
    """A nightly job that maps the tables afresh on every run."""
    metadata = MetaData()
    for table in Supplier.metadata.sorted_tables:
        table.to_metadata(metadata)
    base: Any = automap_base(metadata=metadata)
    base.prepare()
    suppliers = session.scalars(select(base.classes.shop_supplier)).all()
    return len(suppliers)


def supplier_report(session: Session) -> int:
    return len(session.scalars(select(Supplier)).all())


def big_orders_with_names(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(select(Customer.name, Order.total).where(Order.total > 100))
    return [(name, total) for name, total in rows]


def big_orders_with_names_joined(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(
        select(Customer.name, Order.total).where(Order.customer_id == Customer.id, Order.total > 100)
    )
    return [(name, total) for name, total in rows]


def orders_noted(session: Session, note: str) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.note == note)))


def orders_numbered(session: Session, ids: list[int]) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.id.in_(ids))))
