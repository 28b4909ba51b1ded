"""Running EXPLAIN without touching the user's data, transaction or pool.

- Server databases: a private connection (same creator, dialect and connect hooks as the
  user's engine, never pooled; see `_compat.private_engine`), session guards set once,
  each statement explained in its own transaction that is always rolled back, the
  connection discarded at the end.  It runs in a worker thread so a hung connect or lock
  cannot hold the caller longer than the time budget; async engines get a fresh event
  loop there and run the sync API through `greenlet_spawn`.
- In-memory SQLite (one connection shared by every checkout): a new connection would see
  an empty database and a pool checkout would roll back the user's transaction on return,
  so `EXPLAIN QUERY PLAN` (read-only, it never runs the statement) goes through a cursor
  of the shared DBAPI connection itself, with no commit or rollback.
- ANALYZE only for read-only statements (`sql.statement_kind`), inside a READ ONLY
  transaction where the database has one; when it fails, the plain plan is shown.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

from sqla_magic import _compat
from sqla_magic.explain import sql as sqltext
from sqla_magic.explain.dialect import DialectExplainer
from sqla_magic.explain.dialects import explainer_for
from sqla_magic.explain.plan import describe_error, joined_notes, unexplained
from sqla_magic.model import Plan

DEFAULT_TIME_BUDGET_S = 60.0

_T = TypeVar("_T")
Runner = Callable[[str, Any, bool], tuple[Any, dict[str, float]]]
"""(sql, parameters, analyze) -> (raw plan, table sizes); raises what the database raised."""


@dataclass(frozen=True)
class ExplainRequest:
    """One statement to explain, with the parameters its cursor received."""

    sql: str
    params: Any = None
    executemany: bool = False
    fingerprint: str = ""
    statement: Optional[int] = None


def explain_requests(
    engine: Any,
    requests: Sequence[ExplainRequest],
    *,
    analyze: bool = False,
    time_budget_s: float = DEFAULT_TIME_BUDGET_S,
) -> list[Plan]:
    """One `Plan` per request, in order; failures become notes, never exceptions."""
    engine = getattr(engine, "sync_engine", engine)
    if not requests:
        return []
    dialect = engine.dialect.name
    explainer = explainer_for(engine)
    if explainer is None:
        return [_note(r, dialect, f"EXPLAIN not supported for dialect {dialect}") for r in requests]
    deadline = time.monotonic() + time_budget_s
    is_async = bool(getattr(engine.dialect, "is_async", False))
    if dialect == "sqlite" and _compat.shares_one_connection(engine):
        dbapi_connection = _compat.shared_dbapi_connection(engine)
        if dbapi_connection is None:
            note = "not explained: the database's shared connection is not open (in-memory SQLite)"
            return [_note(r, explainer.dialect, note) for r in requests]

        def on_shared() -> list[Plan]:
            run = _shared_connection_runner(dbapi_connection, explainer)
            return _explain_all(run, explainer, requests, analyze, deadline)

        if not is_async:
            return on_shared()
        work = on_shared
    else:

        def work() -> list[Plan]:
            return _explain_on_private_connection(engine, explainer, requests, analyze, deadline)

    try:
        return _in_worker_thread(work, is_async, max(deadline - time.monotonic(), 0.1))
    except TimeoutError:
        note = f"not explained: EXPLAIN did not finish within {time_budget_s:.0f}s"
    except Exception as problem:
        note = f"not explained: {describe_error(problem)}"
    return [_note(r, explainer.dialect, note) for r in requests]


def _note(request: ExplainRequest, dialect: str, note: Optional[str]) -> Plan:
    return unexplained(request.fingerprint, dialect, note or "", sql=request.sql, statement=request.statement)


def _in_worker_thread(work: Callable[[], _T], is_async: bool, timeout_s: float) -> _T:
    """Run `work` in a daemon thread (with its own event loop and greenlet for async
    engines) and wait at most `timeout_s` for it."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            if is_async:
                outcome["value"] = asyncio.run(_in_greenlet(work))
            else:
                outcome["value"] = work()
        except BaseException as problem:  # handed to the caller's thread below
            outcome["error"] = problem

    thread = threading.Thread(target=target, name="sqla_magic-explain", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError
    if "error" in outcome:
        raise outcome["error"]
    value: _T = outcome["value"]
    return value


async def _in_greenlet(work: Callable[[], _T]) -> _T:
    result: _T = await _compat.greenlet_spawn(work)
    return result


def _explain_on_private_connection(
    engine: Any,
    explainer: DialectExplainer,
    requests: Sequence[ExplainRequest],
    analyze: bool,
    deadline: float,
) -> list[Plan]:
    try:
        conn = _compat.private_engine(engine).connect()
    except Exception as problem:
        note = f"not explained: could not open a connection: {describe_error(problem)}"
        return [_note(r, explainer.dialect, note) for r in requests]
    try:
        try:
            _rolled_back(conn, lambda: explainer.prepare_session(conn))
        except Exception as problem:
            note = f"not explained: could not set lock and statement timeouts: {describe_error(problem)}"
            return [_note(r, explainer.dialect, note) for r in requests]
        return _explain_all(
            _private_connection_runner(conn, explainer), explainer, requests, analyze, deadline
        )
    finally:
        # The connection carries session settings: discard it rather than reuse it.
        try:
            conn.invalidate()
        finally:
            conn.close()


def _rolled_back(conn: Any, work: Callable[[], _T]) -> _T:
    """Run `work` in a transaction of `conn` that is rolled back whatever happens."""
    transaction = conn.begin()
    try:
        return work()
    finally:
        try:
            transaction.rollback()
        except Exception:
            if transaction.is_active:
                raise


def _private_connection_runner(conn: Any, explainer: DialectExplainer) -> Runner:
    def run(sql: str, params: Any, analyze: bool) -> tuple[Any, dict[str, float]]:
        def explain() -> tuple[Any, dict[str, float]]:
            explainer.prepare_transaction(conn, read_only=analyze)
            result = _execute(conn, explainer.explain_sql(sql, analyze=analyze), params)
            raw = explainer.read([tuple(row) for row in result.fetchall()])
            return raw, explainer.table_sizes(conn, raw)

        return _rolled_back(conn, explain)

    return run


def _execute(conn: Any, statement: str, params: Any) -> Any:
    """Bind the captured parameters through the driver, exactly as the cursor got them."""
    if params is None or (isinstance(params, (tuple, list, dict)) and not params):
        return conn.exec_driver_sql(statement)
    if isinstance(params, list):
        params = tuple(params)
    return conn.exec_driver_sql(statement, params)


def _shared_connection_runner(dbapi_connection: Any, explainer: DialectExplainer) -> Runner:
    def run(sql: str, params: Any, analyze: bool) -> tuple[Any, dict[str, float]]:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(explainer.explain_sql(sql, analyze=False), _positional(params))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return explainer.read([tuple(row) for row in rows]), {}

    return run


def _positional(params: Any) -> Any:
    if params is None:
        return ()
    if isinstance(params, list):
        return tuple(params)
    return params


def first_parameter_set(params: Any, executemany: bool) -> Any:
    """The parameters of one execution: the first set of an executemany.

    A batch of SQLAlchemy's "insertmanyvalues" arrives with `executemany` set but one flat
    set of values for a multi-row statement; that is used whole.
    """
    if not executemany or not isinstance(params, (list, tuple)) or not params:
        return params
    first = params[0]
    if isinstance(first, (list, tuple, dict)) or hasattr(first, "keys"):
        return first
    return params


def _explain_all(
    run: Runner,
    explainer: DialectExplainer,
    requests: Sequence[ExplainRequest],
    analyze: bool,
    deadline: float,
) -> list[Plan]:
    plans = []
    for request in requests:
        if time.monotonic() > deadline:
            plans.append(
                _note(request, explainer.dialect, "not explained: the EXPLAIN time budget was spent")
            )
            continue
        plans.append(_explain_one(run, explainer, request, analyze))
    return plans


def _explain_one(run: Runner, explainer: DialectExplainer, request: ExplainRequest, analyze: bool) -> Plan:
    kind = sqltext.statement_kind(request.sql)
    if kind == sqltext.DDL:
        return _note(request, explainer.dialect, "not explained: DDL statements are not explained")
    if kind == sqltext.OTHER:
        return _note(request, explainer.dialect, "not explained: not a query or a data-changing statement")
    params = first_parameter_set(request.params, request.executemany)
    analyzed = False
    note: Optional[str] = None
    if analyze:
        note = explainer.analyze_refusal(kind)
        analyzed = note is None
    if request.executemany:
        note = joined_notes(note, "explained with the first parameter set of an executemany")
    try:
        raw, sizes = run(request.sql, params, analyzed)
    except Exception as problem:
        if not analyzed:
            return _note(
                request, explainer.dialect, joined_notes(f"EXPLAIN failed: {describe_error(problem)}", note)
            )
        analyzed = False
        note = joined_notes(
            note, f"ANALYZE failed ({describe_error(problem)}); the plan shows estimates only"
        )
        try:
            raw, sizes = run(request.sql, params, False)
        except Exception as second:
            return _note(
                request, explainer.dialect, joined_notes(f"EXPLAIN failed: {describe_error(second)}", note)
            )
    try:
        parsed = explainer.parse(raw, request.sql, analyzed=analyzed, sizes=sizes)
    except Exception as problem:  # keep the database's output even when it is not understood
        return Plan(
            fingerprint=request.fingerprint,
            dialect=explainer.dialect,
            analyzed=analyzed,
            root=None,
            statement=request.statement,
            sql=request.sql,
            note=joined_notes(note, f"plan not understood: {type(problem).__name__}: {problem}"),
            raw=raw,
        )
    return Plan(
        fingerprint=request.fingerprint,
        dialect=explainer.dialect,
        analyzed=analyzed,
        root=parsed.root,
        warnings=parsed.warnings,
        statement=request.statement,
        sql=request.sql,
        note=joined_notes(note, parsed.note),
        raw=raw,
    )
