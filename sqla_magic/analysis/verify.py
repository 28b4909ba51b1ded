"""Check a rewrite by running the original and the rewritten cell, then undoing both.

Each run happens inside a SAVEPOINT (`Session.begin_nested()`) of every session found in
the namespace, rolled back afterwards, so the database and the user's own transaction
(including changes not yet committed) are as before.  That only holds when the cell's
work goes through those sessions: a cell that commits, rolls back, closes a session,
opens its own connection or session, or uses an engine directly is refused with the
reason.  Each run gets a shallow copy of the namespace, so the cell's assignments do not
replace the user's variables.
"""

from __future__ import annotations

import ast
import contextlib
import itertools
import re
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, scoped_session

from sqla_magic.capture.run import Options, Profiler
from sqla_magic.model import Finding, Report

_REFUSED_CALLS = {
    "commit": "the cell commits",
    "rollback": "the cell rolls back",
    "close": "the cell closes a session or connection",
    "begin": "the cell opens its own transaction",
    "connect": "the cell opens its own connection",
    "Session": "the cell creates its own session",
    "sessionmaker": "the cell creates its own sessions",
    "create_engine": "the cell creates an engine",
    "raw_connection": "the cell uses a raw DBAPI connection",
}
_counter = itertools.count()
_SAVEPOINT = re.compile(r"\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b", re.I)


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


def verify(
    finding: Finding,
    report: Optional[Report],
    namespace: MutableMapping[str, Any],
    *,
    memory: bool = True,
) -> Verification:
    """Run the finding's original and rewritten cell, each rolled back; compare them.

    `namespace` is the user namespace (`get_ipython().user_ns`); it is read, not changed.
    `report` is accepted so callers can pass what they have; the cell text comes from the
    finding's rewrite.
    """
    rewrite = finding.rewrite
    if rewrite is None:
        return Verification(False, "the finding has no rewrite")
    refusal = _refusal(rewrite.original, namespace) or _refusal(rewrite.rewritten, namespace)
    if refusal:
        return Verification(False, refusal)
    sessions = _sessions(namespace)
    if not sessions:
        return Verification(False, "no SQLAlchemy Session in the namespace to run the cell in")
    before, before_value = _run(rewrite.original, namespace, sessions, memory)
    after, after_value = _run(rewrite.rewritten, namespace, sessions, memory)
    if before.error or after.error:
        return Verification(
            False,
            f"the {'original' if before.error else 'rewritten'} cell raised {before.error or after.error}",
            before,
            after,
        )
    return Verification(True, "", before, after, _equal(before_value, after_value))


def _refusal(source: str, namespace: Mapping[str, Any]) -> Optional[str]:
    try:
        tree = ast.parse(_python(source))
    except SyntaxError as problem:
        return f"the cell is not plain Python ({problem.msg})"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name in _REFUSED_CALLS:
                return _REFUSED_CALLS[name]
        if isinstance(node, ast.Name) and isinstance(namespace.get(node.id), (Engine, Connection)):
            return f"the cell uses `{node.id}` directly, which cannot be run inside a rolled-back transaction"
        if isinstance(node, (ast.Await, ast.AsyncFor, ast.AsyncWith)):
            return "the cell is asynchronous"
    return None


def _python(source: str) -> str:
    """The cell without IPython-only lines (the `%%sqlprofile` line), line numbers kept."""
    return "".join(
        "\n" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines(keepends=True)
    )


def _sessions(namespace: Mapping[str, Any]) -> list[Session]:
    found: list[Session] = []
    for value in list(namespace.values()):
        candidate = value
        if not isinstance(candidate, (Session, scoped_session)):
            candidate = getattr(type(value), "session", None) and getattr(value, "session", None)
        if isinstance(candidate, scoped_session):
            candidate = candidate()
        if isinstance(candidate, Session) and all(candidate is not s for s in found):
            found.append(candidate)
    return found


def _run(
    source: str, namespace: Mapping[str, Any], sessions: list[Session], memory: bool
) -> tuple[RunFigures, Any]:
    filename = f"<sqla_magic-verify-{next(_counter)}>"
    body, last = _split_last_expression(_python(source))
    code = compile(body, filename, "exec")
    final = compile(last, filename, "eval") if last is not None else None
    scope = dict(namespace)
    fresh = [not s.in_transaction() for s in sessions]
    savepoints = [s.begin_nested() for s in sessions]  # flushes the user's pending changes first
    for session in sessions:
        session.expire_all()  # both runs start from the database, not from what is already loaded
        # Emit the SAVEPOINT now, not inside the measured run (a session without a default
        # bind emits it with its first statement instead).
        with contextlib.suppress(Exception):
            session.connection()
    profiler = Profiler(
        Options(memory=memory, memory_lines=memory, call_tree=False, explain=False, findings=False),
        (filename,),
        source,
    )
    value: Any = None
    error: Optional[str] = None
    start = time.perf_counter()
    profiler.start()
    try:
        exec(code, scope)
        if final is not None:
            value = eval(final, scope)
    except Exception as problem:
        error = f"{type(problem).__name__}: {problem}"
    finally:
        wall = time.perf_counter() - start
        report = profiler.stop().report
        for session, savepoint, was_fresh in zip(sessions, savepoints, fresh, strict=True):
            if savepoint.is_active:
                savepoint.rollback()
            if was_fresh:
                session.rollback()
    statements = [s for s in report.statements if not _SAVEPOINT.match(s.sql)]
    figures = RunFigures(
        statements=len(statements),
        wall_s=wall,
        peak_bytes=report.memory.peak_bytes if report.memory is not None else None,
        error=error,
        executions=sum(s.param_sets for s in statements),
        writes=sum(1 for s in statements if s.sql.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE")),
    )
    return figures, value


def _split_last_expression(source: str) -> tuple[str, Optional[str]]:
    """The cell and its last expression apart (IPython shows that expression's value)."""
    tree = ast.parse(source)
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body[-1]
        lines = source.splitlines(keepends=True)
        start, end = last.lineno - 1, (last.end_lineno or last.lineno)
        body = "".join(lines[:start]) + "\n" * (end - start)
        return body, ast.get_source_segment(source, last)
    return source, None


def _equal(left: Any, right: Any) -> bool:
    try:
        return bool(left == right)
    except Exception:
        return False
