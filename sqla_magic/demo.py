"""A small library schema and seeded data set, for the demo, the tutorials and the tests.

`declare()` makes fresh mapped classes on their own registry (with an optional table
prefix), so several copies can live in one process and one database.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, declarative_base, relationship

try:  # SQLAlchemy 2.0+: `await obj.awaitable_attrs.rel` for lazy loads under asyncio
    from sqlalchemy.ext.asyncio import AsyncAttrs as _AsyncAttrs
except ImportError:  # SQLAlchemy 1.4
    _AsyncAttrs = object  # type: ignore[assignment,misc]


@dataclass(frozen=True)
class DemoModels:
    """The mapped classes of one `declare()` call and their metadata."""

    Base: Any
    Author: Any
    Book: Any
    User: Any
    EmailAddress: Any

    @property
    def metadata(self) -> sa.MetaData:
        return self.Base.metadata  # type: ignore[no-any-return]


def declare(prefix: str = "") -> DemoModels:
    """Fresh Author/Book and User/EmailAddress models, tables named with `prefix`."""
    base: Any = declarative_base(cls=_AsyncAttrs)

    class Author(base):  # type: ignore[misc,valid-type]
        __tablename__ = f"{prefix}author"
        id = sa.Column(sa.Integer, primary_key=True)
        name = sa.Column(sa.String(100), nullable=False)
        books = relationship("Book", back_populates="author")

        def __repr__(self) -> str:
            return f"Author({self.name!r})"

    class Book(base):  # type: ignore[misc,valid-type]
        __tablename__ = f"{prefix}book"
        id = sa.Column(sa.Integer, primary_key=True)
        author_id = sa.Column(sa.ForeignKey(f"{prefix}author.id"), nullable=False, index=True)
        title = sa.Column(sa.String(200), nullable=False)
        pages = sa.Column(sa.Integer, nullable=False)
        author = relationship("Author", back_populates="books")

    class User(base):  # type: ignore[misc,valid-type]
        __tablename__ = f"{prefix}user_account"
        id = sa.Column(sa.Integer, primary_key=True)
        name = sa.Column(sa.String(100), nullable=False)
        addresses = relationship("EmailAddress", back_populates="user")

    class EmailAddress(base):  # type: ignore[misc,valid-type]
        __tablename__ = f"{prefix}email_address"
        id = sa.Column(sa.Integer, primary_key=True)
        user_id = sa.Column(sa.ForeignKey(f"{prefix}user_account.id"), nullable=False)
        email_address = sa.Column(sa.String(200), nullable=False)
        bounced = sa.Column(sa.Boolean, nullable=False, default=False)
        # A wide column: what makes loading whole rows costly when one column would do.
        raw_headers = sa.Column(sa.Text, nullable=False, default="")
        user = relationship("User", back_populates="addresses")

    return DemoModels(base, Author, Book, User, EmailAddress)


def populate(
    engine: Any,
    models: DemoModels,
    *,
    authors: int = 300,
    books_per_author: int = 20,
    users: int = 0,
    addresses_per_user: int = 5,
    seed: int = 7,
) -> None:
    """Create the tables and fill them with seeded rows (bulk inserts, one transaction).

    `engine` may also be a `Connection` (e.g. inside `AsyncConnection.run_sync`), whose
    transaction the caller owns.
    """
    models.metadata.create_all(engine)
    tables = [models.Author.__table__, models.User.__table__]
    if isinstance(engine, sa.engine.Connection):
        _fill(engine, models, authors, books_per_author, users, addresses_per_user, seed)
        _advance_sequences(engine, tables)
    else:
        with engine.begin() as conn:
            _fill(conn, models, authors, books_per_author, users, addresses_per_user, seed)
            _advance_sequences(conn, tables)


def _advance_sequences(conn: sa.engine.Connection, tables: list[Any]) -> None:
    """Rows were inserted with explicit ids: move PostgreSQL's id sequences past them, so
    that objects added later get fresh ids (other databases do this by themselves)."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        name = conn.dialect.identifier_preparer.format_table(table)
        conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence(:name, 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
            ),
            {"name": name},
        )


def _fill(
    conn: sa.engine.Connection,
    models: DemoModels,
    authors: int,
    books_per_author: int,
    users: int,
    addresses_per_user: int,
    seed: int,
) -> None:
    rng = random.Random(seed)
    if authors:
        conn.execute(
            models.Author.__table__.insert(),
            [{"id": i + 1, "name": f"Author {i + 1}"} for i in range(authors)],
        )
        books = [
            {"author_id": a + 1, "title": f"Book {a + 1}.{b + 1}", "pages": rng.randint(80, 900)}
            for a in range(authors)
            for b in range(books_per_author)
        ]
        if books:  # an empty list would run one INSERT ... DEFAULT VALUES
            conn.execute(models.Book.__table__.insert(), books)
    if users:
        conn.execute(
            models.User.__table__.insert(),
            [{"id": i + 1, "name": f"user{i + 1}"} for i in range(users)],
        )
        header = "Received: from mx.example.org; " * 40
        conn.execute(
            models.EmailAddress.__table__.insert(),
            [
                {
                    "user_id": u + 1,
                    "email_address": f"user{u + 1}.{k}@example.org",
                    "bounced": rng.random() < 0.2,
                    "raw_headers": header,
                }
                for u in range(users)
                for k in range(addresses_per_user)
            ],
        )


def count_pages_n_plus_one(session: Session, models: DemoModels) -> int:
    """The classic N+1: one query for the authors, then one lazy load per author."""
    total = 0
    for author in session.query(models.Author).all():
        total += sum(book.pages for book in author.books)
    return total


# -- a shop: customers, products, orders and order lines ---------------------------------


class Money(sa.types.TypeDecorator):  # type: ignore[type-arg]
    """Decimal amounts stored as whole cents in an INTEGER column."""

    impl = sa.Integer
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return int((Decimal(value) * 100).to_integral_value())

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else Decimal(value).scaleb(-2)


@dataclass(frozen=True)
class ShopModels:
    """The mapped classes of one `declare_shop()` call and their metadata."""

    Base: Any
    Customer: Any
    Product: Any
    Order: Any
    OrderLine: Any

    @property
    def metadata(self) -> sa.MetaData:
        return self.Base.metadata  # type: ignore[no-any-return]


def declare_shop(prefix: str = "", *, money: Any = Money, passive_deletes: bool = False) -> ShopModels:
    """Fresh Customer/Product/Order/OrderLine models, tables named with `prefix`.

    `money` is the column type of the amounts (a type class, instantiated per column).
    Deleting a customer deletes its orders and their lines: by the ORM, one row at a time,
    or, with `passive_deletes=True`, by the database through `ON DELETE CASCADE` (SQLite
    needs `PRAGMA foreign_keys=ON` on each connection for that).
    """
    base: Any = declarative_base(cls=_AsyncAttrs)

    class Customer(base):  # type: ignore[misc,valid-type]
        __tablename__ = f"{prefix}customer"
        id = sa.Column(sa.Integer, primary_key=True)
        name = sa.Column(sa.String(100), nullable=False)
        email = sa.Column(sa.String(200), nullable=False)
        country = sa.Column(sa.String(2), nullable=False)
        orders = relationship(
            "Order",
            back_populates="customer",
            cascade="all, delete-orphan",
            passive_deletes=passive_deletes,
        )

        def __repr__(self) -> str:
            return f"Customer({self.name!r})"

    class Product(base):  # type: ignore[misc,valid-type]
        __tablename__ = f"{prefix}product"
        id = sa.Column(sa.Integer, primary_key=True)
        sku = sa.Column(sa.String(20), nullable=False, unique=True)
        name = sa.Column(sa.String(200), nullable=False)
        price = sa.Column(money(), nullable=False)

    class Order(base):  # type: ignore[misc,valid-type]
        __tablename__ = f"{prefix}orders"
        id = sa.Column(sa.Integer, primary_key=True)
        customer_id = sa.Column(
            sa.Integer, sa.ForeignKey(f"{prefix}customer.id", ondelete="CASCADE"), nullable=False, index=True
        )
        status = sa.Column(sa.String(20), nullable=False)
        placed_at = sa.Column(sa.DateTime, nullable=False)
        total = sa.Column(money(), nullable=False)
        note = sa.Column(sa.Text, nullable=False, default="")
        customer = relationship("Customer", back_populates="orders")
        lines = relationship(
            "OrderLine",
            back_populates="order",
            cascade="all, delete-orphan",
            passive_deletes=passive_deletes,
        )

    class OrderLine(base):  # type: ignore[misc,valid-type]
        __tablename__ = f"{prefix}order_line"
        id = sa.Column(sa.Integer, primary_key=True)
        order_id = sa.Column(
            sa.Integer, sa.ForeignKey(f"{prefix}orders.id", ondelete="CASCADE"), nullable=False, index=True
        )
        product_id = sa.Column(sa.Integer, sa.ForeignKey(f"{prefix}product.id"), nullable=False)
        quantity = sa.Column(sa.Integer, nullable=False)
        unit_price = sa.Column(money(), nullable=False)
        order = relationship("Order", back_populates="lines")
        product = relationship("Product")

    return ShopModels(base, Customer, Product, Order, OrderLine)


ORDER_STATUSES = ("placed", "paid", "shipped", "delivered", "returned")


def populate_shop(
    engine: Any,
    models: ShopModels,
    *,
    customers: int = 500,
    orders_per_customer: int = 4,
    lines_per_order: int = 3,
    products: int = 200,
    seed: int = 7,
) -> None:
    """Create the shop's tables and fill them with seeded rows (bulk inserts, one transaction).

    Every customer has `orders_per_customer` orders of `lines_per_order` lines each; an
    order's total is the sum of its lines.  Statuses are skewed: most orders are
    delivered, few are returned.  `engine` may also be a `Connection`.
    """
    models.metadata.create_all(engine)
    tables = [models.Customer.__table__, models.Product.__table__, models.Order.__table__]
    if isinstance(engine, sa.engine.Connection):
        _fill_shop(engine, models, customers, orders_per_customer, lines_per_order, products, seed)
        _advance_sequences(engine, tables)
    else:
        with engine.begin() as conn:
            _fill_shop(conn, models, customers, orders_per_customer, lines_per_order, products, seed)
            _advance_sequences(conn, tables)


def _fill_shop(
    conn: sa.engine.Connection,
    models: ShopModels,
    customers: int,
    orders_per_customer: int,
    lines_per_order: int,
    products: int,
    seed: int,
) -> None:
    rng = random.Random(seed)
    countries = ("DE", "FR", "GB", "US", "NL", "IT", "ES", "PL")
    prices = [Decimal(rng.randint(199, 19999)).scaleb(-2) for _ in range(products)]
    if products:
        conn.execute(
            models.Product.__table__.insert(),
            [
                {"id": p + 1, "sku": f"SKU-{p + 1:05d}", "name": f"Product {p + 1}", "price": prices[p]}
                for p in range(products)
            ],
        )
    if not customers:
        return
    conn.execute(
        models.Customer.__table__.insert(),
        [
            {
                "id": c + 1,
                "name": f"Customer {c + 1}",
                "email": f"customer{c + 1}@example.com",
                "country": rng.choice(countries),
            }
            for c in range(customers)
        ],
    )
    start = datetime.datetime(2024, 1, 1)
    orders: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for c in range(customers):
        for _ in range(orders_per_customer):
            order_id = len(orders) + 1
            total = Decimal(0)
            for _ in range(lines_per_order if products else 0):
                product = rng.randrange(products)
                quantity = rng.randint(1, 5)
                total += prices[product] * quantity
                lines.append(
                    {
                        "order_id": order_id,
                        "product_id": product + 1,
                        "quantity": quantity,
                        "unit_price": prices[product],
                    }
                )
            orders.append(
                {
                    "id": order_id,
                    "customer_id": c + 1,
                    "status": rng.choices(ORDER_STATUSES, weights=(5, 10, 10, 70, 5))[0],
                    "placed_at": start + datetime.timedelta(minutes=rng.randrange(525_600)),
                    "total": total,
                    "note": "",
                }
            )
    conn.execute(models.Order.__table__.insert(), orders)
    if lines:
        conn.execute(models.OrderLine.__table__.insert(), lines)
