"""Statement capture through SQLAlchemy's engine, session and mapper events.

The listeners are class-level (every `Engine`, `Session` and `Mapper`, including those of
async engines and Flask-SQLAlchemy), added when the first recorder starts and removed
when the last one stops, under a lock.  While installed they cost one tuple check when
nobody records.  Inside a listener the work is to record, not to analyse: the SQL string
the cursor received, a reference to its parameters, two clock readings and the line of
profiled code on the stack.  Fingerprints, parameter copies and URLs are made afterwards.
"""

from __future__ import annotations

import collections
import sys
import threading
import time
import types
from collections.abc import Iterable, Iterator
from typing import Any, Optional

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapper, Session

from sqla_magic import _compat
from sqla_magic.capture.params import safe_text

_START = "_sqla_magic_start"
_ORIGIN = "_sqla_magic_origin"


class StatementRecord:
    """Mutable, cheap record of one cursor execution; turned into a `Statement` later.

    What takes work to interpret (the cache state, the origin) is kept raw and read
    through properties once the profiled code has finished.
    """

    __slots__ = (
        "cache_hit",
        "compiled",
        "duration_s",
        "engine",
        "error",
        "executemany",
        "fetch_s",
        "lines",
        "options",
        "parameters",
        "rowcount",
        "rows",
        "sql",
        "start",
        "thread",
    )

    def __init__(
        self,
        sql: str,
        parameters: Any,
        executemany: bool,
        start: float,
        duration_s: float,
        engine: Engine,
        context: Any,
    ) -> None:
        self.sql = sql
        self.parameters = parameters
        self.executemany = executemany
        self.start = start
        self.duration_s = duration_s
        self.engine = engine
        self.cache_hit = context.cache_hit
        self.compiled = context.compiled is not None
        self.options = context.execution_options
        self.thread = threading.current_thread().name
        self.rowcount = -1
        self.rows: Optional[int] = None
        self.fetch_s = 0.0
        self.error: Optional[str] = None
        self.lines: dict[str, int] = {}

    @property
    def cache(self) -> str:
        return _compat.cache_state(self.cache_hit, self.compiled)

    @property
    def origin(self) -> str:
        origin = self.options.get(_ORIGIN)
        if origin is not None:
            return str(origin)
        return "flush" if _compat.is_flush_statement(self.options, self.engine) else "core"


class Recorder:
    """Collects the statements and ORM loads of one profile.

    `filenames` are the files of the profiled code: the innermost frame of one of them
    gives a statement its line.  `engines` limits capture to those engines (None: all).
    """

    def __init__(
        self,
        filenames: Iterable[str] = (),
        engines: Optional[Iterable[Engine]] = None,
        max_statements: int = 20_000,
    ) -> None:
        self.filenames = frozenset(filenames)
        self.engines = None if engines is None else tuple(engines)
        self.max_statements = max_statements
        self.records: list[StatementRecord] = []
        self.dropped = 0
        self.dropped_duration_s = 0.0
        self.objects_loaded: collections.Counter[type] = collections.Counter()
        self.started = 0.0

    def accepts(self, engine: Engine) -> bool:
        if self.engines is None:
            return True
        return any(engine is e for e in self.engines)

    def add(self, record: StatementRecord) -> None:
        if len(self.records) < self.max_statements:
            self.records.append(record)
        else:
            self.dropped += 1
            self.dropped_duration_s += record.duration_s

    def __enter__(self) -> Recorder:
        self.started = time.perf_counter()
        _start(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _stop(self)


# -- the active recorders and the listeners -----------------------------------------

_active: tuple[Recorder, ...] = ()
_lock = threading.Lock()


def _start(recorder: Recorder) -> None:
    global _active
    with _lock:
        if not _active:
            _install()
        _active = (*_active, recorder)


def _stop(recorder: Recorder) -> None:
    global _active
    with _lock:
        if recorder not in _active:
            return
        _active = tuple(r for r in _active if r is not recorder)
        if not _active:
            _uninstall()


def active_recorders() -> tuple[Recorder, ...]:
    return _active


def listeners_installed() -> bool:
    """True while any listener of this module is registered (used to prove none leak)."""
    return any(event.contains(target, name, fn) for target, name, fn in _LISTENERS)


def _before_cursor_execute(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    if _active and context is not None:
        # What the cursor receives is read here: SQLAlchemy 2.0's insertmanyvalues hands this
        # event each batch's own SQL and parameters, but `after_cursor_execute` the originals.
        setattr(context, _START, (time.perf_counter(), statement, parameters))


def _after_cursor_execute(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    end = time.perf_counter()
    recorders = _active
    if not recorders or context is None:
        return
    started = context.__dict__.pop(_START, None)
    if started is None:
        return
    start, statement, parameters = started
    record = _record(conn, statement, parameters, context, executemany, start, end, recorders)
    if record is None:
        return
    record.rowcount = cursor.rowcount
    if not executemany and (cursor.description is not None or _compat.is_server_side(context)):
        record.rows = 0
        context.cursor = CountingCursor(cursor, record)


def _handle_error(exception_context: Any) -> None:
    recorders = _active
    context = exception_context.execution_context
    if not recorders or context is None:
        return
    started = context.__dict__.pop(_START, None)
    if started is None:
        return
    end = time.perf_counter()
    start, statement, parameters = started
    record = _record(
        exception_context.connection,
        statement,
        parameters,
        context,
        bool(getattr(context, "executemany", False)),
        start,
        end,
        recorders,
    )
    if record is not None:
        record.rowcount = -1
        error = exception_context.original_exception
        record.error = f"{type(error).__name__}: {safe_text(error)}"


def _record(
    conn: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
    start: float,
    end: float,
    recorders: tuple[Recorder, ...],
) -> Optional[StatementRecord]:
    engine = conn.engine
    if len(recorders) == 1:
        recorder = recorders[0]
        if recorder.engines is not None and not recorder.accepts(engine):
            return None
        record = StatementRecord(statement, parameters, executemany, start, end - start, engine, context)
        record.lines = _profiled_lines(sys._getframe(2), recorder.filenames)
        recorder.add(record)
        return record
    targets = [r for r in recorders if r.accepts(engine)]
    if not targets:
        return None
    record = StatementRecord(statement, parameters, executemany, start, end - start, engine, context)
    record.lines = _profiled_lines(sys._getframe(2), frozenset().union(*(r.filenames for r in targets)))
    for recorder in targets:
        recorder.add(record)
    return record


def _profiled_lines(frame: Optional[types.FrameType], filenames: frozenset[str]) -> dict[str, int]:
    """Innermost line of each profiled file on the stack (through async greenlets too)."""
    found: dict[str, int] = {}
    if not filenames:
        return found
    greenlet_checked = False
    while True:
        while frame is not None:
            name = frame.f_code.co_filename
            if name in filenames and name not in found:
                found[name] = frame.f_lineno
                if len(found) == len(filenames):
                    return found
            frame = frame.f_back
        if greenlet_checked:
            return found
        greenlet_checked = True
        frame = _compat.greenlet_parent_frame()


def _on_orm_execute(state: Any) -> None:
    if _active:
        state.update_execution_options(**{_ORIGIN: _compat.orm_origin(state)})


def _on_load(target: Any, context: Any) -> None:
    for recorder in _active:
        recorder.objects_loaded[type(target)] += 1


_LISTENERS = (
    (Engine, "before_cursor_execute", _before_cursor_execute),
    (Engine, "after_cursor_execute", _after_cursor_execute),
    (Engine, "handle_error", _handle_error),
    (Session, "do_orm_execute", _on_orm_execute),
    (Mapper, "load", _on_load),
)


def _install() -> None:
    for target, name, fn in _LISTENERS:
        event.listen(target, name, fn)


def _uninstall() -> None:
    for target, name, fn in _LISTENERS:
        if event.contains(target, name, fn):
            event.remove(target, name, fn)


class CountingCursor:
    """Stands in for the DBAPI cursor of a row-returning statement to count and time fetches.

    Installed as `context.cursor` in `after_cursor_execute`, before SQLAlchemy builds the
    result, so the result's fetch strategy reads rows through it.  Everything else is
    delegated to the real cursor.
    """

    __slots__ = ("_cursor", "_record")

    def __init__(self, cursor: Any, record: StatementRecord) -> None:
        object.__setattr__(self, "_cursor", cursor)
        object.__setattr__(self, "_record", record)

    def fetchone(self) -> Any:
        start = time.perf_counter()
        row = self._cursor.fetchone()
        record = self._record
        record.fetch_s += time.perf_counter() - start
        if row is not None:
            record.rows = (record.rows or 0) + 1
        return row

    def fetchmany(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        rows = self._cursor.fetchmany(*args, **kwargs)
        self._count(start, rows)
        return rows

    def fetchall(self) -> Any:
        start = time.perf_counter()
        rows = self._cursor.fetchall()
        self._count(start, rows)
        return rows

    def _count(self, start: float, rows: Any) -> None:
        record = self._record
        record.fetch_s += time.perf_counter() - start
        record.rows = (record.rows or 0) + len(rows)

    def __iter__(self) -> Iterator[Any]:
        for row in self._cursor:
            self._record.rows = (self._record.rows or 0) + 1
            yield row

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> Any:
        return self._cursor.rowcount

    def close(self) -> None:
        self._cursor.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._cursor, name, value)
