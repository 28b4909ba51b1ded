"""repeated-flush keeps every row: its rewrite is run against a fresh database beside the
original, and the tables must hold the same rows; where moving the call could lose or
change rows, it gives advice and no rewrite, or no finding at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import pytest
from IPython.core.interactiveshell import InteractiveShell

from sqla_magic.model import Finding

SETUP = """
import sqlalchemy as sa
from sqlalchemy.orm import Session, declarative_base

FlushBase = declarative_base()

class Parent(FlushBase):
    __tablename__ = "flush_parent"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(40))

class Child(FlushBase):
    __tablename__ = "flush_child"
    id = sa.Column(sa.Integer, primary_key=True)
    parent_id = sa.Column(sa.Integer)

def fresh_engine(path):
    engine = sa.create_engine(f"sqlite:///{path}")
    FlushBase.metadata.drop_all(engine)
    FlushBase.metadata.create_all(engine)
    return engine

def table_contents(engine):
    with engine.connect() as conn:
        return {t.name: conn.execute(sa.select(t).order_by(*t.primary_key)).all()
                for t in FlushBase.metadata.sorted_tables}

engine = fresh_engine(DB_PATH)
session = Session(engine)
"""


def finding(shell: InteractiveShell, cell: str) -> Optional[Finding]:
    shell.run_cell(f"%%sqlprofile -o rep --quiet --no-explain\n{cell}", store_history=False).raise_error()
    found = [f for f in shell.user_ns["rep"].findings if f.rule == "repeated-flush"]
    return found[0] if found else None


def contents_after(shell: InteractiveShell, code: str, path: Path) -> Any:
    shell.user_ns["run_path"] = str(path)
    shell.run_cell(
        "engine = fresh_engine(run_path)\nsession.close()\nsession = Session(engine)\n", store_history=False
    ).raise_error()
    shell.run_cell(code, store_history=False).raise_error()
    shell.run_cell("session.commit()\ncontents = table_contents(engine)", store_history=False).raise_error()
    return shell.user_ns["contents"]


@pytest.fixture
def shell(magic_shell: Callable[[str], InteractiveShell], tmp_path: Path) -> InteractiveShell:
    return magic_shell(f"DB_PATH = {str(tmp_path / 'profiled.db')!r}\n" + SETUP)


def test_one_session_commit_per_row_is_moved_and_keeps_every_row(
    shell: InteractiveShell, tmp_path: Path
) -> None:
    cell = "for i in range(30):\n    session.add(Parent(name=f'p{i}'))\n    session.commit()\n"
    found = finding(shell, cell)
    assert found is not None and found.rewrite is not None
    assert "30 flushes and COMMITs of one session" in found.message
    rewritten = found.rewrite.rewritten.split("\n", 1)[1]
    assert rewritten.rstrip().endswith("session.commit()") and rewritten.count("commit") == 1
    original = contents_after(shell, cell, tmp_path / "original.db")
    after = contents_after(shell, rewritten, tmp_path / "rewritten.db")
    assert len(original["flush_parent"]) == 30 and original == after


def test_a_session_per_row_is_not_a_repeated_flush(shell: InteractiveShell) -> None:
    cell = (
        "for i in range(30):\n"
        "    with Session(engine) as own:\n"
        "        own.add(Parent(name=f'p{i}'))\n"
        "        own.commit()\n"
    )
    assert finding(shell, cell) is None
    shell.run_cell("n = session.scalar(sa.select(sa.func.count()).select_from(Parent))").raise_error()
    assert shell.user_ns["n"] == 30


def test_deliberate_chunks_are_not_flagged(shell: InteractiveShell) -> None:
    cell = (
        "for i in range(3000):\n"
        "    session.add(Parent(name=f'p{i}'))\n"
        "    if i % 200 == 199:\n"
        "        session.flush()\n"
        "session.commit()\n"
    )
    assert finding(shell, cell) is None


def test_a_loop_that_reads_the_generated_key_gets_advice_without_a_rewrite(
    shell: InteractiveShell, tmp_path: Path
) -> None:
    cell = (
        "for i in range(20):\n"
        "    parent = Parent(name=f'p{i}')\n"
        "    session.add(parent)\n"
        "    session.commit()\n"
        "    session.add(Child(parent_id=parent.id))\n"
    )
    found = finding(shell, cell)
    assert found is not None and found.rewrite is None and found.fix
    # What the naive move would have done: every child loses its parent's key.
    moved = (
        "for i in range(20):\n"
        "    parent = Parent(name=f'p{i}')\n"
        "    session.add(parent)\n"
        "    session.add(Child(parent_id=parent.id))\n"
        "session.commit()\n"
    )
    original = contents_after(shell, cell, tmp_path / "original.db")
    naive = contents_after(shell, moved, tmp_path / "moved.db")
    assert original != naive and {row.parent_id for row in naive["flush_child"]} == {None}


def test_a_loop_that_catches_a_failed_row_gets_advice_without_a_rewrite(shell: InteractiveShell) -> None:
    cell = (
        "for i in range(20):\n"
        "    try:\n"
        "        session.add(Parent(name=f'p{i}'))\n"
        "        session.commit()\n"
        "    except sa.exc.IntegrityError:\n"
        "        session.rollback()\n"
    )
    found = finding(shell, cell)
    assert found is not None and found.rewrite is None
