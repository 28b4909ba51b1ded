"""EXPLAIN for the statements that matter, as `Plan`s in one model for every database.

`explain_report` picks the statements (see `selection`), re-runs EXPLAIN for each on a
connection of its own with the captured parameters bound through the driver, and reads
the output with the dialect's module (`sqlite`, `postgresql`, `mysql`; a plain text
`EXPLAIN` elsewhere where the database has one).  What EXPLAIN may and may not do to the
user's data and transaction is set out in `runner`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqla_magic.explain import lexer
from sqla_magic.explain.plan import unexplained
from sqla_magic.explain.runner import (
    DEFAULT_TIME_BUDGET_S,
    INTERRUPTED,
    ExplainInterrupted,
    ExplainRequest,
    explain_requests,
    first_parameter_set,
)
from sqla_magic.explain.selection import statements_to_explain
from sqla_magic.model import Plan, Report

__all__ = [
    "ExplainRequest",
    "explain_report",
    "explain_requests",
    "explain_statement",
    "first_parameter_set",
    "statements_to_explain",
]


def explain_report(
    report: Report,
    records: Sequence[Any],
    *,
    analyze: bool = False,
    top: int = 5,
    extra: Iterable[int] = (),
    time_budget_s: float = DEFAULT_TIME_BUDGET_S,
) -> list[Plan]:
    """Plans for the slowest statement groups, the statements findings point at, and `extra`.

    `records[i]` is the capture record of `report.statements[i]` (its engine and the exact
    SQL and parameters its cursor received).  Never raises for a statement that cannot be
    explained: its Plan carries a `note` instead.
    """
    indexes = [i for i in statements_to_explain(report, top=top, extra=extra) if i < len(records)]
    by_engine: dict[int, tuple[Any, list[int]]] = {}
    for index in indexes:
        engine = records[index].engine
        by_engine.setdefault(id(engine), (engine, []))[1].append(index)
    plans: dict[int, Plan] = {}
    interrupted = False
    for engine, members in by_engine.values():
        setups = _session_setups(engine, records, max(members))
        requests = []
        for index in members:
            record = records[index]
            before = [
                (sql, params, replayable)
                for at, connection, sql, params, replayable in setups
                if at < index and (connection == record.connection or 0 in (connection, record.connection))
            ]
            requests.append(
                ExplainRequest(
                    sql=record.sql,
                    params=record.parameters,
                    executemany=bool(record.executemany),
                    fingerprint=report.statements[index].fingerprint,
                    statement=index,
                    session_setup=tuple((sql, params) for sql, params, _ in before),
                    setup_refusal=next(
                        (f"`{sql[:80]}`" for sql, _, replayable in before if not replayable), None
                    ),
                )
            )
        if interrupted:
            explained = [
                unexplained(r.fingerprint, engine.dialect.name, INTERRUPTED, sql=r.sql, statement=r.statement)
                for r in requests
            ]
            plans.update(zip(members, explained, strict=True))
            continue
        try:
            explained = explain_requests(engine, requests, analyze=analyze, time_budget_s=time_budget_s)
        except (ExplainInterrupted, KeyboardInterrupt):
            interrupted = True
            explained = [
                unexplained(r.fingerprint, engine.dialect.name, INTERRUPTED, sql=r.sql, statement=r.statement)
                for r in requests
            ]
        except Exception as problem:  # a bug here must not cost the user the report
            explained = [
                unexplained(
                    r.fingerprint,
                    engine.dialect.name,
                    f"not explained: {problem!r}",
                    sql=r.sql,
                    statement=r.statement,
                )
                for r in requests
            ]
        plans.update(zip(members, explained, strict=True))
    return [plans[i] for i in indexes if i in plans]


def _session_setups(engine: Any, records: Sequence[Any], last: int) -> list[tuple[int, int, str, Any, bool]]:
    """(index, DBAPI connection id, sql, parameters, replayable) of the statements up to
    `last` that changed the session state of a connection of `engine` (see
    `lexer.session_change`); a statement's plan replays those of its own connection."""
    dialect = getattr(engine, "sync_engine", engine).dialect.name
    found = []
    for index, record in enumerate(records[: last + 1]):
        if record.engine is engine and record.error is None:
            change = lexer.session_change(record.sql, dialect)
            if change is not None:
                found.append((index, record.connection, record.sql, record.parameters, change))
    return found


def explain_statement(
    engine: Any,
    sql: str,
    params: Any = None,
    *,
    analyze: bool = False,
    executemany: bool = False,
    time_budget_s: float = DEFAULT_TIME_BUDGET_S,
) -> Plan:
    """The plan of one statement: `sql` exactly as the DBAPI cursor takes it (the driver's
    paramstyle) and `params` as the cursor took them.  `engine` may be an `AsyncEngine`."""
    request = ExplainRequest(sql=sql, params=params, executemany=executemany)
    return explain_requests(engine, [request], analyze=analyze, time_budget_s=time_budget_s)[0]
