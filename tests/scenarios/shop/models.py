"""The shop's models, declared on one Flask-SQLAlchemy extension."""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

db = SQLAlchemy()


class Customer(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "shop_customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(100), default="")
    orders: Mapped[list[Order]] = relationship(back_populates="customer")


class Order(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "shop_order"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("shop_customer.id"))
    total: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = deferred(mapped_column(Text, default=""))
    customer: Mapped[Customer] = relationship(back_populates="orders")
