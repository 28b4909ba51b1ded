"""The shop's Flask app; tests drive it through its test client."""

from __future__ import annotations

from flask import Flask, render_template

from tests.scenarios.shop import services
from tests.scenarios.shop.models import Bin, Customer, Order, Product, Shipment, Supplier, Warehouse, db


def create_app(customers: int = 30, orders_per_customer: int = 4) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    db.init_app(app)
    with app.app_context():
        db.create_all()
        db.session.add_all(Customer(id=i, name=f"c{i}", city=f"town{i % 3}") for i in range(1, customers + 1))
        db.session.add_all(
            Order(customer_id=i % customers + 1, total=i, note=f"n{i}")
            for i in range(customers * orders_per_customer)
        )
        db.session.add_all(Supplier(id=i, name=f"s{i}") for i in range(1, 13))
        db.session.add_all(Product(supplier_id=i % 12 + 1, name=f"p{i}") for i in range(60))
        db.session.add_all(Shipment(supplier_id=i % 9 + 4, weight=i) for i in range(36))
        db.session.add_all(Warehouse(id=i) for i in range(1, 4))
        db.session.add_all(Bin(warehouse_id=i % 3 + 1) for i in range(60))
        db.session.commit()

    @app.get("/customers")
    def customers_page() -> str:
        customers = db.session.scalars(db.select(Customer)).all()
        return render_template("customers.html", customers=customers)

    @app.get("/customer/<int:customer_id>")
    def customer_page(customer_id: int) -> str:
        customer = services.current_customer(db.session, customer_id)
        return customer.name if customer is not None else ""

    return app
