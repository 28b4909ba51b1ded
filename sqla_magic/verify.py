"""Check a rewrite by running the original and the rewritten cell, each undone afterwards.

The sandbox is kept at run time, through SQLAlchemy's events and transactions it owns,
never by reading the cell:

- A session is taken into the sandbox when the cell first uses it (`do_orm_execute`,
  `before_flush`, `before_attach`): one already in a transaction (the user's pending
  work) gets a SAVEPOINT of ours first, one without gets its own transaction.  A Core
  connection is taken in at its first `before_execute` the same way.  Both are rolled
  back after the run.  Sessions and connections the cell does not use are never touched.
- The run is aborted, before the database sees it, when the cell commits, releases or
  rolls back a transaction that is not its own, runs on an AUTOCOMMIT connection, sends
  a statement that ends a transaction or commits implicitly (transaction control, DDL on
  MySQL/MariaDB, CALL, more than one statement), opens a file for writing, connects a
  socket, starts a process or a thread.  Its changes so far are rolled back and the
  verification says where ("the cell commits, in `place_order` (shop/svc.py:42)").
- What cannot be undone is said up front (`NOTICE`): the cell runs twice more; printed
  output is swallowed; objects it mutates in place stay mutated (each run gets a shallow
  copy of the namespace, so its assignments do not replace the user's variables).

Each run is recorded by `capture` (statements, rows, layers; no call tree, whose
profiler would slow the runs unevenly) into a `Report`, so the outcome is a `Comparison`
of the original cell's run and the rewritten cell's, as `Report.compare` gives.  The
caller may add findings to both (`analyse`, e.g. the rules of the pipeline).
"""

from __future__ import annotations

import ast
import contextlib
import io
import itertools
import os
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, make_transient

from sqla_magic import _compat
from sqla_magic.capture import memory as measured_memory
from sqla_magic.capture import run as capture
from sqla_magic.explain import lexer
from sqla_magic.model import Comparison, Finding, Memory, Report

NOTICE = (
    "Try it runs the cell and its rewrite once more each. Their database changes are rolled "
    "back; output they print is not shown; objects they change in place stay changed."
)
CONFIRM: Mapping[str, Any] = {
    "does": (
        "Try it runs this cell's code again, twice, on the kernel: the original, then the rewrite, "
        "each inside a transaction that is rolled back afterwards."
    ),
    "guards": (
        "A run is stopped and rolled back the moment it commits (also in a helper it calls), uses an "
        "AUTOCOMMIT engine, runs DDL that commits implicitly, opens a file for writing, connects a "
        "socket, or starts a process or thread."
    ),
    "cannot_undo": (
        "objects the cell changes in place (each run gets a copy of the namespace: reassigning a "
        "name is safe, `items.append(...)` is not)",
        "sequence values its INSERTs consume (PostgreSQL and MariaDB never roll them back)",
        "work on other threads, or through a raw DBAPI connection behind SQLAlchemy's back",
        "effects outside the database (files, network, other processes) when a run is forced",
    ),
    "output": "Output the runs print is not shown.",
}
"""What the view says before Try it runs anything: it asks for a second, explicit click."""
FORCE_HINT = (
    "to run it anyway: `sqla_magic.verify.verify(finding, namespace=globals(), force=True)` "
    "(only the database is rolled back)"
)
_counter = itertools.count()
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_LIBRARY_DIRS = tuple(
    {os.path.abspath(p) for p in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"])}
)


@dataclass(frozen=True)
class RunFigures:
    """What one run of a cell cost."""

    statements: int
    wall_s: float
    peak_bytes: Optional[int]
    error: Optional[str] = None
    executions: int = 0
    """Parameter sets sent (an executemany counts each set)."""
    writes: int = 0
    """INSERT/UPDATE/DELETE statements executed (an executemany counts once)."""


@dataclass(frozen=True)
class Verification:
    """Before/after figures of a finding's rewrite, or why it could not be checked."""

    verified: bool
    reason: str = ""
    before: Optional[RunFigures] = None
    after: Optional[RunFigures] = None
    same_result: Optional[bool] = None
    notice: str = NOTICE
    before_report: Optional[Report] = None
    """The original cell's run, as captured."""
    after_report: Optional[Report] = None
    """The rewritten cell's run."""

    NAMES = ("original", "rewrite")

    @property
    def comparison(self) -> Optional[Comparison]:
        """The rewrite's run against the original's, when both ran to the end."""
        if not self.verified or self.before_report is None or self.after_report is None:
            return None
        return self.before_report.compare(self.after_report, names=self.NAMES)

    @property
    def summary(self) -> str:
        if not self.verified or self.before is None or self.after is None:
            return f"not verified: {self.reason}"
        parts = [f"statements {self.before.statements} → {self.after.statements}"]
        parts.append(f"time {self.before.wall_s * 1000:.0f} ms → {self.after.wall_s * 1000:.0f} ms")
        if self.before.peak_bytes is not None and self.after.peak_bytes is not None:
            parts.append(
                f"peak memory {self.before.peak_bytes / 2**20:.1f} MiB → "
                f"{self.after.peak_bytes / 2**20:.1f} MiB"
            )
        parts.append("same result" if self.same_result else "DIFFERENT result")
        return ", ".join(parts)


class SandboxExit(BaseException):
    """Raised where the cell steps outside the sandbox.  A BaseException, so the cell's own
    `except Exception` cannot swallow it and carry on."""


def verify(
    finding: Finding,
    report: Optional[Report] = None,
    namespace: Optional[MutableMapping[str, Any]] = None,
    *,
    memory: bool = True,
    force: bool = False,
    analyse: Optional[Callable[[capture.Recording], Report]] = None,
) -> Verification:
    """Run the finding's original and rewritten cell in the sandbox; compare them.

    `namespace` is the user namespace (`get_ipython().user_ns`); each run gets a shallow
    copy.  `force` lets a run write files or call out (the database is still guarded).
    `analyse` turns each run's recording into the report compared (the pipeline's rules,
    which the magic hands in); without it the reports have no findings.
    """
    rewrite = finding.rewrite
    if rewrite is None:
        return Verification(False, "the finding has no rewrite")
    namespace = namespace if namespace is not None else {}
    for source in (rewrite.original, rewrite.rewritten):
        refusal = _not_python(source)
        if refusal:
            return Verification(False, refusal)
    before, before_value, before_run = _run(rewrite.original, namespace, memory, force)
    if before.error:
        return Verification(False, f"the original cell {before.error}", before)
    after, after_value, after_run = _run(rewrite.rewritten, namespace, memory, force)
    if after.error:
        return Verification(False, f"the rewritten cell {after.error}", before, after)
    finish = analyse or (lambda recording: recording.report)
    before_report, after_report = finish(before_run), finish(after_run)
    return Verification(
        True,
        "",
        before,
        after,
        _equal(before_value, after_value),
        before_report=before_report,
        after_report=after_report,
    )


def _not_python(source: str) -> Optional[str]:
    try:
        tree = ast.parse(_python(source))
    except SyntaxError as problem:
        return f"the cell is not plain Python ({problem.msg})"
    if any(isinstance(node, (ast.Await, ast.AsyncFor, ast.AsyncWith)) for node in ast.walk(tree)):
        return "the cell is asynchronous"
    return None


def _python(source: str) -> str:
    """The cell without IPython-only lines (the `%%sqlprofile` line), line numbers kept."""
    return "".join(
        "\n" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines(keepends=True)
    )


_CAPTURE = capture.Options(memory=False, call_tree=False, explain=False, findings=False)
"""What a verification run records: statements and layers; memory is measured apart."""


def _run(
    source: str, namespace: Mapping[str, Any], memory: bool, force: bool
) -> tuple[RunFigures, Any, capture.Recording]:
    filename = f"<sqla_magic-verify-{next(_counter)}>"
    code, final = _compiled(_python(source), filename)
    scope = dict(namespace)
    captured = _Captured(filename, source)
    sandbox = Sandbox(
        filename,
        guard_outside=not force,
        users_pending=_pending_objects(namespace),
        recorded=lambda: len(captured.profiler.recorder.records),
    )
    value: Any = None
    error: Optional[str] = None
    measured = _Measure(memory)
    try:
        # The sandbox is entered first: its own set-up is not part of the figures.
        with sandbox, captured, measured, contextlib.redirect_stdout(io.StringIO()):
            exec(code, scope)
            if final is not None:
                value = eval(final, scope)
    except SandboxExit:
        pass
    except Exception as problem:
        if sandbox.exit_reason is None:
            error = f"raised {type(problem).__name__}: {problem}"
    wall, peak_bytes = measured.wall_s, measured.peak_bytes
    if sandbox.exit_reason is not None:
        error = f"was stopped and rolled back: {sandbox.exit_reason}"
        if sandbox.outside_world:
            error += f"; {FORCE_HINT}"
    elif sandbox.unsafe:
        error = sandbox.unsafe
    figures = RunFigures(
        statements=sandbox.statements,
        wall_s=wall,
        peak_bytes=peak_bytes,
        error=error,
        executions=sandbox.executions,
        writes=sandbox.writes,
    )
    return figures, value, captured.result(measured, sandbox.own_statements)


class _Captured:
    """`capture` around one run; `report` once it has stopped."""

    def __init__(self, filename: str, source: str) -> None:
        self.profiler = capture.Profiler(_CAPTURE, (filename,), source)
        self.recording: Optional[capture.Recording] = None

    def __enter__(self) -> None:
        self.profiler.start()

    def __exit__(self, *exc: Any) -> None:
        self.recording = self.profiler.stop()

    def result(self, measured: _Measure, sandboxes: list[range]) -> capture.Recording:
        """The recording with the cell's own statements (not those of the sandbox, at the
        positions `sandboxes`, nor SQLAlchemy's SAVEPOINT statements) and the allocation
        peak the run was measured with."""
        assert self.recording is not None
        report = self.recording.report
        theirs = {position for span in sandboxes for position in span}
        kept = tuple(
            statement
            for position, (statement, record) in enumerate(
                zip(report.statements, self.recording.records, strict=True)
            )
            if position not in theirs and not _compat.is_savepoint_clause(record.statement)
        )
        peak = measured.peak_bytes
        memory = Memory(peak_bytes=peak, method="tracemalloc") if peak is not None else None
        return replace(self.recording, report=replace(report, statements=kept, memory=memory))


class _Measure:
    """Wall time and what the run allocated at its highest (tracemalloc), not the process's
    resident size, which never shrinks and so cannot show a rewrite that needs less."""

    def __init__(self, memory: bool) -> None:
        self.wall_s = 0.0
        self.peak_bytes: Optional[int] = None
        self._allocated = measured_memory.AllocatedPeak() if memory else None
        self._start = 0.0

    def __enter__(self) -> None:
        if self._allocated is not None:
            self._allocated.start()
        self._start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.wall_s = time.perf_counter() - self._start
        if self._allocated is not None:
            self.peak_bytes = self._allocated.stop()


# -- the sandbox ---------------------------------------------------------------------------


@dataclass
class _Held:
    """What the sandbox must undo for one session or connection."""

    savepoint: Any = None
    """Our SAVEPOINT (a SessionTransaction or NestedTransaction) to roll back to."""
    fresh: bool = False
    """It had no transaction before the run: roll its whole transaction back."""
    by_session: bool = False
    """A session's connection: the session's own undo covers it."""


@dataclass
class Sandbox:
    """The run-time guard around one run of a cell (see the module docstring)."""

    filename: str
    guard_outside: bool = True
    exit_reason: Optional[str] = None
    outside_world: bool = False
    unsafe: Optional[str] = None
    statements: int = 0
    executions: int = 0
    writes: int = 0
    _sessions: dict[int, tuple[Session, _Held]] = field(default_factory=dict)
    _connections: dict[int, tuple[Connection, _Held]] = field(default_factory=dict)
    _begun: set[int] = field(default_factory=set)
    """Connections whose transaction began during the run (the run's own)."""
    _written: dict[int, Any] = field(default_factory=dict)
    """Connections the run wrote on, by id: their DBAPI connection."""
    _cell_savepoints: set[int] = field(default_factory=set)
    _run_transactions: set[int] = field(default_factory=set)
    """Root session transactions begun during the run (the run's own)."""
    _unentered: dict[int, Session] = field(default_factory=dict)
    """Connections a session with the user's transaction began for the run before the
    sandbox took that session in, by connection id."""
    users_pending: dict[int, list[Any]] = field(default_factory=dict)
    """Objects each session of the namespace held as pending before the run, by session id.
    SQLAlchemy 1.4 autoflushes before `do_orm_execute`, so the first flush can carry them
    into our SAVEPOINT, whose rollback then expunges them: the undo puts them back."""
    _own: int = 0
    recorded: Callable[[], int] = lambda: 0
    """How many statements the run's capture has recorded so far."""
    own_statements: list[range] = field(default_factory=list)
    """Positions in the capture of the statements the sandbox itself ran (its SAVEPOINTs,
    the flush of the user's pending work before one): not the cell's."""
    _active: bool = False
    _thread: int = 0
    _listeners: list[tuple[Any, str, Any]] = field(default_factory=list)
    _exit: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __enter__(self) -> Sandbox:
        self._thread = threading.get_ident()
        listeners: list[tuple[Any, str, Any]] = [
            (Session, "do_orm_execute", lambda state: self._enter_session(state.session)),
            (Session, "before_flush", lambda session, *_: self._enter_session(session, flushing=True)),
            (Session, "before_attach", lambda session, _instance: self._enter_session(session)),
            (Session, "after_begin", self._session_began),
            (Session, "after_transaction_create", self._transaction_created),
            (Session, "before_commit", self._session_commits),
            (Engine, "before_execute", self._before_execute),
            (Engine, "after_cursor_execute", self._after_cursor_execute),
            (Engine, "begin", self._connection_began),
            (Engine, "commit", self._connection_commits),
            (Engine, "rollback", self._connection_rolls_back),
            (Engine, "release_savepoint", self._savepoint_released),
        ]
        with contextlib.ExitStack() as undo:
            # Closing a connection of such a pool would roll back the one DBAPI connection;
            # the sandbox rolls back what the run did itself.
            for target, name, function in listeners:
                event.listen(target, name, function)
                undo.callback(event.remove, target, name, function)
            undo.enter_context(_compat.shared_pools_without_reset())
            self._listeners = listeners
            self._exit = undo.pop_all()
        if self.guard_outside:
            _AUDIT.install()
            _AUDIT.sandbox = self
        self._active = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self._active = False
        _AUDIT.sandbox = None
        try:
            self._check_still_in_transaction()
            self._undo()
        finally:
            self._exit.close()

    @contextlib.contextmanager
    def _own_work(self) -> Iterator[None]:
        self._own += 1
        first = self.recorded()
        try:
            yield
        finally:
            self._own -= 1
            self.own_statements.append(range(first, self.recorded()))

    # -- abort ------------------------------------------------------------------------------

    def _stop(self, what: str, *, outside_world: bool = False) -> None:
        if self.exit_reason is None:
            self.exit_reason = f"the cell {what}, {_where(self.filename)}"
            self.outside_world = outside_world
        raise SandboxExit(self.exit_reason)

    def _watching(self) -> bool:
        return self._active and not self._own and threading.get_ident() == self._thread

    def _refuse_after_exit(self) -> None:
        """Once stopped, nothing more reaches the database, even if the cell caught the stop."""
        if self.exit_reason is not None:
            raise SandboxExit(self.exit_reason)

    # -- sessions ---------------------------------------------------------------------------

    def _enter_session(self, session: Session, *, flushing: bool = False) -> None:
        if not self._watching() or id(session) in self._sessions:
            return
        self._refuse_after_exit()
        held = _Held()
        self._sessions[id(session)] = (session, held)
        pending = bool(session.new or session.dirty or session.deleted)
        if session.in_transaction() or pending:
            # The user's work in progress stays theirs: their unflushed changes go to the
            # database first (as autoflush would), outside the SAVEPOINT the run is kept in.
            # Entered from `before_flush`, the flush under way goes into the SAVEPOINT.
            with self._own_work():
                held.savepoint = session.begin_nested()
        else:
            held.fresh = True
        if not flushing:
            session.expire_all()  # both runs start from the database, not from what is loaded

    def _transaction_created(self, session: Session, transaction: Any) -> None:
        if not self._watching():
            return
        if transaction.nested:
            self._cell_savepoints.add(id(transaction))
        elif transaction.parent is None:
            self._run_transactions.add(id(transaction))

    def _session_began(self, session: Session, transaction: Any, connection: Connection) -> None:
        if not self._active or threading.get_ident() != self._thread:
            return
        self._check_autocommit(connection)
        self._connections.setdefault(id(connection), (connection, _Held(by_session=True)))
        if self._watching() and id(session) not in self._sessions:
            # Reached without an ORM execute, flush or add (`session.connection()`, as
            # `DataFrame.to_sql` does): a transaction the run began is the run's to roll
            # back; the user's own gets our SAVEPOINT before the connection's first statement.
            root = transaction
            while root.parent is not None:
                root = root.parent
            if id(root) in self._run_transactions:
                self._sessions[id(session)] = (session, _Held(fresh=True))
            else:
                self._unentered[id(connection)] = session

    def _session_commits(self, session: Session) -> None:
        if not self._watching():
            return
        nested = session.get_nested_transaction()
        if nested is not None and id(nested) in self._cell_savepoints:
            return  # releasing a SAVEPOINT the cell made itself
        self._stop("commits")

    # -- connections ------------------------------------------------------------------------

    def _before_execute(self, conn: Connection, clause: Any, *_: Any) -> None:
        if not self._watching():
            return
        self._refuse_after_exit()
        if _compat.is_savepoint_clause(clause):
            return  # SQLAlchemy's own SAVEPOINT / RELEASE / ROLLBACK TO, watched by their events
        self._check_autocommit(conn)
        unentered = self._unentered.pop(id(conn), None)
        if unentered is not None:
            self._enter_session(unentered)
        dialect = conn.dialect.name
        ddl = _compat.is_ddl(clause)
        if ddl:
            if dialect in lexer.MYSQL_DIALECTS or dialect == "oracle":
                self._stop(f"runs DDL, which {dialect} commits implicitly")
        else:
            sql = _compat.textual_sql(clause)
            if sql is not None:
                classified = lexer.classify(sql, dialect)
                allowed = (lexer.READ, lexer.LOCKING_READ, lexer.WRITE) + (
                    () if dialect in lexer.MYSQL_DIALECTS else (lexer.DDL,)
                )
                if not classified.single:
                    self._stop(f"sends SQL that cannot be proven safe to roll back ({classified.refusal})")
                elif classified.kind not in allowed:
                    self._stop(f"sends `{_shorten(sql)}`, which the sandbox cannot roll back")
                ddl = classified.kind == lexer.DDL
        if ddl and dialect == "sqlite":
            self._begin_at_the_driver(conn)
        if id(conn) not in self._connections:
            held = _Held()
            self._connections[id(conn)] = (conn, held)
            if conn.in_transaction() and id(conn) not in self._begun:
                with self._own_work():
                    held.savepoint = conn.begin_nested()
            else:
                held.fresh = True

    def _begin_at_the_driver(self, conn: Connection) -> None:
        """pysqlite opens a transaction only before INSERT/UPDATE/DELETE, so DDL sent first
        (`CREATE TABLE` by `DataFrame.to_sql`) would be committed as it runs: a BEGIN at
        the driver keeps it in the transaction the sandbox rolls back."""
        dbapi_connection: Any = conn.connection.dbapi_connection
        if _compat.dbapi_in_transaction(dbapi_connection) is False:
            if _compat.dbapi_autocommit(dbapi_connection) is True:
                self._stop("runs DDL on a driver connection in autocommit mode")
            dbapi_connection.execute("BEGIN")

    def _after_cursor_execute(
        self, conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if not self._active or self._own or threading.get_ident() != self._thread:
            return
        if _compat.is_savepoint_clause(getattr(getattr(context, "compiled", None), "statement", None)):
            return
        self.statements += 1
        self.executions += len(parameters) if executemany and isinstance(parameters, (list, tuple)) else 1
        dml = _compat.compiled_is_dml(context)
        if dml is None:
            dml = lexer.classify(statement, conn.dialect.name).kind == lexer.WRITE
        if dml:
            self.writes += 1
            dbapi_connection = conn.connection.dbapi_connection
            self._written[id(conn)] = dbapi_connection
            if _compat.dbapi_in_transaction(dbapi_connection) is False:
                self._ended_outside()
                self._stop("writes outside a transaction (the driver is in autocommit mode)")

    def _connection_began(self, conn: Connection) -> None:
        if not self._watching():
            return  # a transaction our own SAVEPOINT needed (flushing the user's work) is not the run's
        # A pool that hands out one DBAPI connection to everyone (in-memory SQLite) gives
        # the cell the user's, with the user's transaction open in it: a second transaction
        # there could only end the user's.
        if _compat.dbapi_in_transaction(conn.connection.dbapi_connection) is True:
            self._stop(
                "opens a second connection to a database that has only one (in-memory SQLite) "
                "while a transaction is open in it"
            )
        self._begun.add(id(conn))

    def _connection_commits(self, conn: Connection) -> None:
        if self._watching():
            self._stop("commits")

    def _connection_rolls_back(self, conn: Connection) -> None:
        dbapi_connection = self._written.pop(id(conn), None)
        if dbapi_connection is not None and _compat.dbapi_in_transaction(dbapi_connection) is False:
            self._ended_outside()
        if self._watching() and id(conn) not in self._begun:
            self._stop("rolls back a transaction that was open before it ran (the user's pending work)")

    def _savepoint_released(self, conn: Connection, name: str, context: Any) -> None:
        if not self._watching():
            return
        ours = [held.savepoint for _, held in self._connections.values() if held.savepoint is not None]
        ours += [held.savepoint for _, held in self._sessions.values() if held.savepoint is not None]
        if any(_compat.savepoint_name(savepoint) == name for savepoint in ours):
            self._stop("releases the savepoint that keeps its changes apart from the user's transaction")

    def _check_autocommit(self, conn: Connection) -> None:
        if _compat.is_autocommit(conn):
            self._stop(f"runs on an AUTOCOMMIT connection ({conn.engine.url.render_as_string()})")

    # -- undo -------------------------------------------------------------------------------

    def _check_still_in_transaction(self) -> None:
        """Writes must still be inside a transaction we can roll back when it is rolled
        back; a DBAPI-level commit (a driver call, a stored procedure) would have ended it."""
        for dbapi_connection in self._written.values():
            if _compat.dbapi_in_transaction(dbapi_connection) is False:
                self._ended_outside()

    def _ended_outside(self) -> None:
        self.unsafe = (
            "committed outside SQLAlchemy's view (its writes were no longer in a transaction "
            "when it ended): they were NOT rolled back"
        )

    def _undo(self) -> None:
        for session, held in reversed(list(self._sessions.values())):
            with contextlib.suppress(Exception):
                if held.savepoint is not None and held.savepoint.is_active:
                    held.savepoint.rollback()
                elif held.fresh:
                    session.rollback()
                for instance in self.users_pending.get(id(session), ()):
                    if instance not in session:
                        make_transient(instance)
                        session.add(instance)
        for conn, held in reversed(list(self._connections.values())):
            with contextlib.suppress(Exception):
                if conn.closed or held.by_session:
                    continue
                if held.savepoint is not None and held.savepoint.is_active:
                    held.savepoint.rollback()
                elif id(conn) in self._begun and conn.in_transaction():
                    conn.rollback()


def _pending_objects(namespace: Mapping[str, Any]) -> dict[int, list[Any]]:
    """Read-only: what each open session of the namespace has added but not flushed."""
    return {
        id(value): list(value.new) for value in namespace.values() if isinstance(value, Session) and value.new
    }


def _shorten(sql: str, limit: int = 60) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _where(cell_filename: str) -> str:
    """'in `function` (file:line)' for the innermost frame of the user's own code."""
    frame: Any = sys._getframe(2)
    while frame is not None:
        file = frame.f_code.co_filename
        if file == cell_filename:
            return f"at line {frame.f_lineno} of the cell"
        if _is_users(file):
            return f"in `{frame.f_code.co_name}` ({file}:{frame.f_lineno})"
        frame = frame.f_back
    return "in code outside the cell"


def _is_users(file: str) -> bool:
    if file.startswith("<"):
        return False
    path = os.path.abspath(file)
    if path.startswith(_PACKAGE_DIR) or "site-packages" in path or "dist-packages" in path:
        return False
    return not path.startswith(_LIBRARY_DIRS)


# -- effects outside the database (audit hooks) --------------------------------------------


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_OUTSIDE_EVENTS = {
    "os.remove": "deletes a file",
    "os.rename": "renames a file",
    "os.replace": "renames a file",
    "os.rmdir": "deletes a directory",
    "os.mkdir": "creates a directory",
    "os.truncate": "truncates a file",
    "os.chmod": "changes a file's permissions",
    "os.link": "creates a link",
    "os.symlink": "creates a link",
    "shutil.rmtree": "deletes a directory tree",
    "shutil.move": "moves a file",
    "socket.connect": "opens a network connection",
    "socket.sendto": "sends on the network",
    "socket.getaddrinfo": "looks up a network address",
    "subprocess.Popen": "starts a process",
    "os.system": "starts a process",
    "os.exec": "starts a process",
    "os.posix_spawn": "starts a process",
    "os.spawn": "starts a process",
    "os.fork": "forks the process",
    "os.kill": "sends a signal",
    "webbrowser.open": "opens a browser",
    "_thread.start_new_thread": "starts a thread, whose work the sandbox cannot follow",
    "sqlite3.connect": "opens a database connection outside SQLAlchemy",
}


class _AuditGuard:
    """One audit hook for the process (they cannot be removed), active only while a
    sandbox is, and only on the sandbox's thread."""

    def __init__(self) -> None:
        self.sandbox: Optional[Sandbox] = None
        self._installed = False
        self._lock = threading.Lock()

    def install(self) -> None:
        with self._lock:
            if not self._installed:
                sys.addaudithook(self._hook)
                self._installed = True

    def _hook(self, name: str, args: tuple[Any, ...]) -> None:
        sandbox = self.sandbox
        if sandbox is None or sandbox._own or threading.get_ident() != sandbox._thread:
            return
        what: Optional[str] = None
        if name == "open":
            path, mode, flags = (*args, None, None, None)[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writes:
                what = f"opens {path!r} for writing"
        elif name in _OUTSIDE_EVENTS and not _in_sqlalchemy_connect():
            what = _OUTSIDE_EVENTS[name]
        if what is not None:
            self.sandbox = None  # the stop below must not trip the hook again
            try:
                sandbox._stop(what, outside_world=True)
            finally:
                self.sandbox = sandbox


def _in_sqlalchemy_connect() -> bool:
    """A pool opening a DBAPI connection for a session or connection of the cell."""
    frame: Any = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "connect" and frame.f_code.co_filename.endswith(
            os.path.join("sqlalchemy", "engine", "default.py")
        ):
            return True
        frame = frame.f_back
    return False


_AUDIT = _AuditGuard()


def _compiled(source: str, filename: str) -> tuple[Any, Any]:
    """The cell's code and its last expression's (IPython shows that expression's value),
    apart, both with the cell's own line numbers."""
    tree = ast.parse(source)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(body=tree.body[-1].value)
        tree.body.pop()
    code = compile(tree, filename, "exec")
    return code, compile(last, filename, "eval") if last is not None else None


def _equal(left: Any, right: Any) -> bool:
    try:
        return bool(left == right)
    except Exception:
        return False
