"""Reports built by hand for the renderer tests: an N+1 cell with everything a report can hold."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from sqla_magic.model import (
    CallNode,
    CapturedWarning,
    CellError,
    Finding,
    Memory,
    MemoryLine,
    Plan,
    PlanNode,
    PlanWarning,
    Report,
    Rewrite,
    Statement,
)

SECRET = "hunter2-top-secret"

USERS_SQL = "SELECT users.id, users.name, users.api_key FROM users WHERE users.api_key != ? ORDER BY users.id"
ADDRESSES_SQL = (
    "SELECT addresses.id AS addresses_id, addresses.email AS addresses_email, "
    "addresses.user_id AS addresses_user_id FROM addresses WHERE ? = addresses.user_id"
)

CELL = """\
users = session.scalars(select(User).where(User.api_key != key)).all()
for user in users:
    print(user.name, len(user.addresses))
"""
REWRITTEN = """\
users = session.scalars(select(User).where(User.api_key != key).options(selectinload(User.addresses))).all()
for user in users:
    print(user.name, len(user.addresses))
"""
CELL_FILE = "/tmp/ipykernel_4242/1234567.py"
SA = "/venv/lib/python3.12/site-packages/sqlalchemy"


def _statement(index: int, **fields: Any) -> Statement:
    values: dict[str, Any] = {
        "sql": ADDRESSES_SQL,
        "params": (index,),
        "duration_s": 0.0004 + (index % 7) * 0.00001,
        "rowcount": -1,
        "executemany": False,
        "fingerprint": "f-addresses",
        "cache": "cached",
        "line": 4,
        "origin": "lazy load User.addresses",
        "engine": "sqlite:///demo.db",
        "thread": "MainThread",
        "dialect": "sqlite",
        "rows": 2,
        "fetch_s": 0.00002,
        "start_s": 0.01 + index * 0.0006,
    }
    values.update(fields)
    return Statement(**values)


def node(
    name: str,
    sqlalchemy_file: str,
    line: int,
    calls: int,
    total: float,
    own: float,
    *children: CallNode,
    **fields: Any,
) -> CallNode:
    """A call-tree node in a SQLAlchemy module (a builtin when `sqlalchemy_file` is empty)."""
    fields.setdefault("kind", "sqlalchemy")
    file = f"{SA}/{sqlalchemy_file}" if sqlalchemy_file else ""
    return CallNode(name, file, line, calls, total, own, children=children, **fields)


def make_report() -> Report:
    """An N+1: one query for 300 users, then one lazy load of addresses per user."""
    statements = [
        _statement(
            0,
            sql=USERS_SQL,
            params=(SECRET,),
            duration_s=0.0031,
            fingerprint="f-users",
            cache="generated",
            line=2,
            origin="query",
            rows=300,
        )
    ]
    statements += [_statement(i, cache="generated" if i == 1 else "cached") for i in range(1, 301)]

    cursor = node("<method 'execute' of 'sqlite3.Cursor' objects>", "", 0, 300, 0.119, 0.119, kind="builtin")
    do_execute = node("do_execute", "engine/default.py", 920, 300, 0.12, 0.001, cursor, layer="database")
    execute = node("execute", "orm/session.py", 2270, 300, 0.15, 0.004, do_execute)
    lazy_load = node("_load_for_state", "orm/strategies.py", 846, 300, 0.21, 0.01, execute, layer="orm_load")
    configure = node("configure_mappers", "orm/mapper.py", 4100, 1, 0.03, 0.03, layer="mapper_config")
    module = CallNode(
        "<module>",
        CELL_FILE,
        1,
        1,
        0.5,
        0.02,
        kind="cell",
        children=(
            node("__get__", "orm/attributes.py", 560, 300, 0.24, 0.01, lazy_load),
            node("scalars", "orm/session.py", 2390, 1, 0.09, 0.001, configure),
            node("print", "", 0, 300, 0.05, 0.05, kind="builtin"),
        ),
    )
    tree = CallNode("<profiled code>", "", 0, 1, 0.5, 0.0, children=(module,), kind="cell")

    memory = Memory(
        peak_bytes=3 * 1024 * 1024 + 200 * 1024,
        method="tracemalloc",
        lines=(
            MemoryLine(2, 2_400_000, 2_400_000, "users = session.scalars(select(User)).all()", 2_500_000),
            MemoryLine(3, 0, 2_400_000, "for user in users:", 0, occurrences=301),
            MemoryLine(4, 650_000, 3_050_000, "    print(user.name, len(user.addresses))", 700_000, 300),
        ),
    )
    plan = Plan(
        fingerprint="f-addresses",
        dialect="sqlite",
        analyzed=False,
        statement=1,
        sql=ADDRESSES_SQL,
        root=PlanNode(
            "QUERY PLAN",
            children=(PlanNode("SCAN addresses", table="addresses", filter_columns=("user_id",)),),
        ),
        warnings=(
            PlanWarning("seq-scan", "full scan of addresses filtered on user_id", "addresses", ("user_id",)),
        ),
    )
    findings = (
        Finding(
            rule="seq-scan",
            severity="medium",
            title="Full scan of addresses",
            message="300 statements scan addresses filtered on user_id, which has no index.",
            lines=(4,),
            statements=(1,),
            fix="Index('ix_addresses_user_id', Address.user_id)",
        ),
        Finding(
            rule="n-plus-one",
            severity="high",
            title="N+1 lazy loads of User.addresses",
            message="User.addresses was lazy loaded 300 times, once per User (120 ms).",
            lines=(4,),
            statements=tuple(range(1, 301)),
            rewrite=Rewrite(CELL, REWRITTEN, "load the addresses of all users in one extra query"),
        ),
    )
    return Report(
        wall_s=0.52,
        cpu_s=0.47,
        statements=tuple(statements),
        layers={
            "database": 0.125,
            "fetch": 0.012,
            "compile": 0.018,
            "orm_load": 0.09,
            "mapper_config": 0.03,
            "python": 0.245,
        },
        call_tree=tree,
        memory=memory,
        plans=(plan,),
        findings=findings,
        source=CELL,
        filename=CELL_FILE,
        started_at="2026-11-22T10:00:00",
        objects_loaded={"User": 300, "Address": 600},
        warnings=(CapturedWarning("SAWarning", "relationship X will copy column Y", 2, CELL_FILE),),
        notes=("EXPLAIN ran on the first execution of each shape.",),
        versions={"sqlalchemy": "2.0.36"},
    )


HOSTILE = "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>"


def poisoned(value: Any) -> Any:
    """The same report with every string (and every mapping key) carrying hostile markup."""
    if isinstance(value, str):
        return value + HOSTILE
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: poisoned(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    if isinstance(value, dict):
        return {poisoned(k): poisoned(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(poisoned(v) for v in value)
    return value


@pytest.fixture
def report() -> Report:
    return make_report()


@pytest.fixture
def hostile() -> str:
    return HOSTILE


@pytest.fixture
def hostile_report() -> Report:
    base = poisoned(make_report())
    assert isinstance(base, Report)
    return dataclasses.replace(
        base,
        error=CellError(HOSTILE, f"boom {HOSTILE}", 4),
        layers={**base.layers, HOSTILE: 0.01},
    )


@pytest.fixture
def secret() -> str:
    return SECRET
