"""Run scenario cells through a real IPython shell with `%%sqlprofile` and read the findings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from IPython.core.interactiveshell import InteractiveShell

SHELL_SETUP = """
import sqlalchemy as sa
from sqlalchemy import select, func, update, insert, exists
from sqlalchemy.orm import Session
from sqla_magic import demo
models = demo.declare("scn_")
Author, Book, User, EmailAddress = models.Author, models.Book, models.User, models.EmailAddress
"""

FLASK_SETUP = """
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
flask_app = Flask("scenarios")
flask_app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
db = SQLAlchemy(flask_app)

class FAuthor(db.Model):
    __tablename__ = "f_author"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100), nullable=False)
    books = db.relationship("FBook", back_populates="author")

class FBook(db.Model):
    __tablename__ = "f_book"
    id = db.Column(db.Integer, primary_key=True)
    author_id = db.Column(db.ForeignKey("f_author.id"), nullable=False)
    title = db.Column(db.String(200), nullable=False)
    pages = db.Column(db.Integer, nullable=False)
    notes = db.Column(db.Text, nullable=False, default="")
    isbn = db.Column(db.String(20), nullable=False, default="")
    author = db.relationship("FAuthor", back_populates="books")

flask_context = flask_app.app_context()
flask_context.push()
db.create_all()
db.session.execute(sa.insert(FAuthor), [{"id": i, "name": f"A{i}"} for i in range(1, 201)])
db.session.execute(
    sa.insert(FBook),
    [{"author_id": i % 200 + 1, "title": f"B{i}", "pages": i % 500} for i in range(1000)],
)
db.session.commit()
sa.orm.configure_mappers()
"""

CASE_SETUP = """
engine = sa.create_engine("sqlite://")
demo.populate(engine, models, authors=300, books_per_author=5, users=300, addresses_per_user=3)
session = Session(engine)
"""

CASE_TEARDOWN = """
session.close()
engine.dispose()
db.session.rollback()
"""


@dataclass(frozen=True)
class Case:
    """One cell and the rules it should trigger (empty: a clean cell)."""

    id: str
    cell: str
    expected: frozenset[str]
    style: str = "2.0"
    setup: str = ""
    options: str = "--no-explain"
    tags: tuple[str, ...] = field(default=())


def case(
    id: str,
    cell: str,
    *expected: str,
    style: str = "2.0",
    setup: str = "",
    options: str = "--no-explain",
    tags: tuple[str, ...] = (),
) -> Case:
    return Case(id, cell.strip("\n") + "\n", frozenset(expected), style, setup, options, tags)


def make_shell() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext sqla_magic", store_history=False)
    shell.run_cell(SHELL_SETUP, store_history=False).raise_error()
    shell.run_cell(FLASK_SETUP, store_history=False).raise_error()
    return shell


def run_case(shell: InteractiveShell, scenario: Case) -> Any:
    """Run the case's cell; returns the `Report`."""
    shell.run_cell(CASE_SETUP, store_history=False).raise_error()
    try:
        if scenario.setup:
            shell.run_cell(scenario.setup, store_history=False).raise_error()
        shell.user_ns.pop("rep", None)
        result = shell.run_cell(
            f"%%sqlprofile -o rep --quiet {scenario.options}\n{scenario.cell}", store_history=False
        )
        result.raise_error()
        return shell.user_ns["rep"]
    finally:
        shell.run_cell(CASE_TEARDOWN, store_history=False)


def score(results: Iterable[tuple[Case, set[str]]], rules: Iterable[str]) -> dict[str, Any]:
    """Precision and recall over (case, rule) decisions, overall and per rule."""
    per_rule: dict[str, dict[str, int]] = {rule: {"tp": 0, "fp": 0, "fn": 0} for rule in rules}
    for scenario, fired in results:
        for rule, counts in per_rule.items():
            if rule in fired and rule in scenario.expected:
                counts["tp"] += 1
            elif rule in fired:
                counts["fp"] += 1
            elif rule in scenario.expected:
                counts["fn"] += 1
    tp = sum(c["tp"] for c in per_rule.values())
    fp = sum(c["fp"] for c in per_rule.values())
    fn = sum(c["fn"] for c in per_rule.values())
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "per_rule": per_rule,
    }
