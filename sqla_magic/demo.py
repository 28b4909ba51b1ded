"""A small library schema and seeded data set, for the demo, the tutorials and the tests.

`declare()` makes fresh mapped classes on their own registry (with an optional table
prefix), so several copies can live in one process and one database.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
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
    if isinstance(engine, sa.engine.Connection):
        _fill(engine, models, authors, books_per_author, users, addresses_per_user, seed)
    else:
        with engine.begin() as conn:
            _fill(conn, models, authors, books_per_author, users, addresses_per_user, seed)


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
        conn.execute(
            models.Book.__table__.insert(),
            [
                {
                    "author_id": a + 1,
                    "title": f"Book {a + 1}.{b + 1}",
                    "pages": rng.randint(80, 900),
                }
                for a in range(authors)
                for b in range(books_per_author)
            ],
        )
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
