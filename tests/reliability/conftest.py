"""Fixtures for the reliability suite: a real IPython shell with the extension loaded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

SETUP = """
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm import declarative_base, relationship
import sqla_magic
Base = declarative_base()
class Author(Base):
    __tablename__ = "author"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(100), nullable=False)
    books = relationship("Book", back_populates="author")
class Book(Base):
    __tablename__ = "book"
    id = sa.Column(sa.Integer, primary_key=True)
    author_id = sa.Column(sa.ForeignKey("author.id"), nullable=False)
    title = sa.Column(sa.String(200), nullable=False)
    author = relationship("Author", back_populates="books")
engine = sa.create_engine("sqlite://")
Base.metadata.create_all(engine)
with Session(engine) as _s:
    for i in range(1, 7):
        _s.add(Author(id=i, name=f"a{i}", books=[Book(title=f"b{i}-{j}") for j in range(2)]))
    _s.commit()
session = Session(engine)
"""


@pytest.fixture
def shell(magic_shell: Callable[[str], InteractiveShell]) -> InteractiveShell:
    """The shell with `%load_ext sqla_magic` and six authors with two books each in `session`."""
    return magic_shell(SETUP)


def run(ip: InteractiveShell, cell: str) -> Any:
    return ip.run_cell(cell, store_history=True)


def traceback_lines(error: BaseException) -> list[tuple[str, int]]:
    """(file, line) of every frame of the exception's traceback, outermost first."""
    found = []
    tb = error.__traceback__
    while tb is not None:
        found.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    return found
