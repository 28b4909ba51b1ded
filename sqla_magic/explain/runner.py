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
- Only what is provably one statement by the database's own lexical rules
  (`lexer.classify`) is explained at all; ANALYZE only for read-only ones.  The private
  connection never inherits AUTOCOMMIT from the user's engine: it gets an isolation level
  with transactions, and each EXPLAIN runs only once the driver confirms it is inside a
  transaction (READ ONLY where the database has one), which is always rolled back.
- Statements the cell ran earlier on the same engine that change the session's state
  (`SET search_path`, `SET ROLE`, `USE`) are replayed inside that transaction first, so
  the plan is of what the user ran; those that cannot be replayed safely (`SET GLOBAL`)
  are named in the plan's note instead.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Optional, TypeVar

from sqla_magic import _compat
from sqla_magic.explain import lexer
from sqla_magic.explain.dialect import DialectExplainer
from sqla_magic.explain.dialects import explainer_for
from sqla_magic.explain.plan import describe_error, joined_notes, unexplained
from sqla_magic.model import Plan

DEFAULT_TIME_BUDGET_S = 60.0
INTERRUPT_WAIT_S = 3.0
"""After Ctrl-C, how long to wait for the EXPLAIN thread to stop once its statement is cancelled."""
INTERRUPTED = "not explained: EXPLAIN was interrupted (Ctrl-C); the rest of the report is kept"

_T = TypeVar("_T")
Explained = tuple[Any, dict[str, float]]
Runner = Callable[["ExplainRequest", Any, bool, bool], Explained]
"""(request, parameters, analyze, read_only) -> (raw plan, table sizes); raises what the
database raised."""


@dataclass(frozen=True)
class ExplainRequest:
    """One statement to explain, with the parameters its cursor received."""

    sql: str
    params: Any = None
    executemany: bool = False
    fingerprint: str = ""
    statement: Optional[int] = None
    session_setup: tuple[tuple[str, Any], ...] = ()
    """(sql, parameters) of statements run before it on the same engine that changed the
    session's state (`SET search_path`, `SET ROLE`, `USE`), in order."""
    setup_refusal: Optional[str] = None
    """A session change before it that is not replayed (`SET GLOBAL ...`)."""


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
    cancel = Cancellation()
    if dialect == "sqlite" and _compat.shares_one_connection(engine):
        dbapi_connection = _compat.shared_dbapi_connection(engine)
        if dbapi_connection is None:
            note = "not explained: the database's shared connection is not open (in-memory SQLite)"
            return [_note(r, explainer.dialect, note) for r in requests]

        def on_shared() -> list[Plan]:
            run = _shared_connection_runner(dbapi_connection, explainer)
            return _explain_all(run, explainer, requests, analyze, deadline, cancel)

        if not is_async:
            try:
                return on_shared()
            except KeyboardInterrupt:
                raise ExplainInterrupted from None
        work = on_shared
    else:

        def work() -> list[Plan]:
            return _explain_on_private_connection(engine, explainer, requests, analyze, deadline, cancel)

    try:
        return _in_worker_thread(work, is_async, max(deadline - time.monotonic(), 0.1), cancel)
    except ExplainInterrupted:
        raise
    except TimeoutError:
        note = f"not explained: EXPLAIN did not finish within {time_budget_s:.0f}s"
    except Exception as problem:
        note = f"not explained: {describe_error(problem)}"
    return [_note(r, explainer.dialect, note) for r in requests]


def _note(request: ExplainRequest, dialect: str, note: Optional[str]) -> Plan:
    return unexplained(request.fingerprint, dialect, note or "", sql=request.sql, statement=request.statement)


class ExplainInterrupted(Exception):  # noqa: N818 - it names what happened, like KeyboardInterrupt
    """Ctrl-C while EXPLAIN ran: the EXPLAIN thread was stopped, the report is kept."""


@dataclass
class Cancellation:
    """How the caller's thread stops the EXPLAIN thread: a flag checked between
    statements, and the DBAPI connection whose running statement it cancels."""

    requested: threading.Event = field(default_factory=threading.Event)
    connection: Any = None

    def cancel(self) -> None:
        self.requested.set()
        if self.connection is not None:
            _compat.cancel_statement(self.connection)


def _in_worker_thread(
    work: Callable[[], _T], is_async: bool, timeout_s: float, cancel: Optional[Cancellation] = None
) -> _T:
    """Run `work` in a daemon thread (with its own event loop and greenlet for async
    engines) and wait at most `timeout_s` for it.  Ctrl-C while waiting cancels the work
    and raises `ExplainInterrupted` once the thread has stopped (or a few seconds passed)."""
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
    try:
        thread.join(timeout_s)
    except KeyboardInterrupt:
        if cancel is not None:
            cancel.cancel()
        thread.join(INTERRUPT_WAIT_S)
        raise ExplainInterrupted from None
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
    cancel: Optional[Cancellation] = None,
) -> list[Plan]:
    try:
        conn = _compat.private_engine(engine).connect()
    except Exception as problem:
        note = f"not explained: could not open a connection: {describe_error(problem)}"
        return [_note(r, explainer.dialect, note) for r in requests]
    try:
        level = explainer.transaction_isolation
        if level is not None:
            conn = conn.execution_options(isolation_level=level)
        if _compat.is_autocommit(conn):
            note = (
                "not explained: the engine runs in AUTOCOMMIT mode and no transaction could be "
                f"opened for EXPLAIN on {explainer.dialect}, so nothing it ran could be rolled back"
            )
            return [_note(r, explainer.dialect, note) for r in requests]
        try:
            _rolled_back(conn, lambda: explainer.prepare_session(conn))
        except Exception as problem:
            note = f"not explained: could not set lock and statement timeouts: {describe_error(problem)}"
            return [_note(r, explainer.dialect, note) for r in requests]
        if cancel is not None:
            cancel.connection = conn.connection.dbapi_connection
        return _explain_all(
            _private_connection_runner(conn, explainer), explainer, requests, analyze, deadline, cancel
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
    def run(
        request: ExplainRequest, params: Any, analyze: bool, read_only: bool
    ) -> tuple[Any, dict[str, float]]:
        def explain() -> tuple[Any, dict[str, float]]:
            explainer.prepare_transaction(conn, read_only=read_only or analyze)
            dbapi_connection = conn.connection.dbapi_connection
            if explainer.needs_transaction and _compat.dbapi_in_transaction(dbapi_connection) is False:
                raise NoTransactionError("the driver did not open a transaction for EXPLAIN")
            for setup, setup_params in request.session_setup:
                _execute(conn, setup, setup_params)
            result = _execute(conn, explainer.explain_sql(request.sql, analyze=analyze), params)
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


class NoTransactionError(RuntimeError):
    """EXPLAIN would not run inside a transaction that can be rolled back."""


def _shared_connection_runner(dbapi_connection: Any, explainer: DialectExplainer) -> Runner:
    def run(
        request: ExplainRequest, params: Any, analyze: bool, read_only: bool
    ) -> tuple[Any, dict[str, float]]:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(explainer.explain_sql(request.sql, analyze=False), _positional(params))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        raw = explainer.read([tuple(row) for row in rows])
        return raw, explainer.table_sizes(dbapi_connection, raw)

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
    cancel: Optional[Cancellation] = None,
) -> list[Plan]:
    plans = []
    locked: Optional[str] = None
    for request in requests:
        if cancel is not None and cancel.requested.is_set():
            break
        if time.monotonic() > deadline:
            plans.append(
                _note(request, explainer.dialect, "not explained: the EXPLAIN time budget was spent")
            )
            continue
        if locked is not None:
            plans.append(_note(request, explainer.dialect, locked))
            continue
        plan = _explain_one(run, explainer, request, analyze)
        locked = explainer.locked_note(plan.note)
        if locked is not None:
            plan = replace(plan, note=locked)
        plans.append(plan)
    return plans


def _explain_one(run: Runner, explainer: DialectExplainer, request: ExplainRequest, analyze: bool) -> Plan:
    classified = lexer.classify(request.sql, explainer.dialect)
    if not classified.single:
        why = f"not explained: {classified.refusal}, and only what is provably one statement is explained"
        return _note(request, explainer.dialect, why)
    kind = classified.kind
    if kind == lexer.DDL:
        return _note(request, explainer.dialect, "not explained: DDL statements are not explained")
    if kind not in (lexer.READ, lexer.LOCKING_READ, lexer.WRITE):
        return _note(request, explainer.dialect, "not explained: not a query or a data-changing statement")
    if request.setup_refusal is not None:
        why = (
            f"not explained: the cell ran {request.setup_refusal} before it, which EXPLAIN does not "
            "replay, so its plan would be of another session state"
        )
        return _note(request, explainer.dialect, why)
    refusal = explainer.plain_refusal(classified)
    if refusal is not None:
        return _note(request, explainer.dialect, f"not explained: {refusal}")
    read_only = kind == lexer.READ
    params = first_parameter_set(request.params, request.executemany)
    analyzed = False
    note: Optional[str] = _setup_note(request, explainer)
    if analyze:
        note = joined_notes(note, explainer.analyze_refusal(kind))
        analyzed = explainer.analyze_refusal(kind) is None
    if request.executemany:
        note = joined_notes(note, "explained with the first parameter set of an executemany")
    try:
        raw, sizes = run(request, params, analyzed, read_only)
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
            raw, sizes = run(request, params, False, read_only)
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


def _setup_note(request: ExplainRequest, explainer: DialectExplainer) -> Optional[str]:
    if not request.session_setup:
        return None
    shown = "; ".join(_short(sql) for sql, _ in request.session_setup)
    return f"explained after replaying what the cell set on its connection first: {shown}"


def _short(sql: str, limit: int = 80) -> str:
    text = " ".join(sql.split())
    return f"`{text}`" if len(text) <= limit else f"`{text[: limit - 1]}…`"
