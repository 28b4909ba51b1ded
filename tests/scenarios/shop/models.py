"""The shop's models, declared on one Flask-SQLAlchemy extension."""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import DynamicMapped, Mapped, deferred, mapped_column, relationship

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


class Supplier(db.Model):  # type: ignore[name-defined,misc]
    """Its products go with it through the ORM's cascade; its shipments are a dynamic query."""

    __tablename__ = "shop_supplier"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    products: Mapped[list[Product]] = relationship(cascade="all, delete-orphan")
    shipments: DynamicMapped[Shipment] = relationship(lazy="dynamic")


class Product(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "shop_product"
    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("shop_supplier.id"))
    name: Mapped[str] = mapped_column(String(100))


class Shipment(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "shop_shipment"
    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("shop_supplier.id"))
    weight: Mapped[int] = mapped_column(default=0)


class Warehouse(db.Model):  # type: ignore[name-defined,misc]
    """Its bins are deleted by the database (`ON DELETE CASCADE`), not by the ORM."""

    __tablename__ = "shop_warehouse"
    id: Mapped[int] = mapped_column(primary_key=True)
    bins: Mapped[list[Bin]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class Bin(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "shop_bin"
    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("shop_warehouse.id", ondelete="CASCADE"))
