"""Statement capture through SQLAlchemy's dialect and mapper events.

The listeners are class-level (every `Engine`'s dialect and every `Mapper`, including
those of async engines and Flask-SQLAlchemy), added when the first recorder
starts and removed when the last one stops, under a lock.  While installed they cost one
tuple check when nobody records.

Statements are caught by the dialect's `do_execute` / `do_executemany` /
`do_execute_no_params` events: the listener makes the DBAPI call itself and returns True,
as those events allow, so one frame sees exactly what the cursor receives (each
insertmanyvalues batch too), times it and sees its errors.  The connection events
(`before_cursor_execute` ...) would switch on SQLAlchemy's whole per-execution event
dispatch, several times the cost.  Other `do_execute` listeners still run in SQLAlchemy's
order: those after ours are called from ours.  One ordered before ours that makes the
call itself is left alone; its statements are not captured.

Inside a listener the work is to record, not to analyse: the SQL string, a reference to
its parameters, two clock readings and the line of profiled code on the stack.
Fingerprints, parameter copies and URLs are made afterwards.
"""

from __future__ import annotations

import collections
import itertools
import operator
import sys
import threading
import time
import types
import weakref
from collections.abc import Iterable, Iterator
from typing import Any, Optional

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapper, Session

from sqla_magic import _compat
from sqla_magic.capture.params import kept_sets, safe_text
from sqla_magic.capture.sites import SiteFinder, walk


class StatementRecord:
    """Mutable, cheap record of one cursor execution; turned into a `Statement` later.

    What takes work to interpret (the cache state, the origin) is kept raw and read
    through properties once the profiled code has finished.
    """

    __slots__ = (
        "batches",
        "cache_outcome",
        "compiled",
        "connection",
        "duration_s",
        "engine",
        "error",
        "executemany",
        "fetch_s",
        "flush",
        "frames",
        "in_flush",
        "lines",
        "listed",
        "options",
        "parameters",
        "request",
        "rowcount",
        "rows",
        "sets",
        "sql",
        "start",
        "statement",
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
        self.sets = 1
        self.listed = False
        """Whether `parameters` are a list of sets (`cursor.executemany`), not one set (an
        insertmanyvalues batch is one set, though SQLAlchemy marks it executemany)."""
        self.executemany = executemany
        self.start = start
        self.duration_s = duration_s
        self.engine = engine
        self.cache_outcome, compiled, self.options, self.statement = _execution_facts(context)
        self.compiled = compiled is not None
        self.connection = getattr(getattr(context, "cursor", None), "connection", None)
        """The DBAPI connection it ran on (None: the driver's cursor does not say): session
        settings (`SET search_path`, `USE`) belong to one connection."""
        self.thread = getattr(_this_thread, "name", None) or _thread_name()
        self.rowcount = -1
        self.rows: Optional[int] = None
        self.fetch_s = 0.0
        self.batches = 0
        """`fetchmany` calls that returned rows: more than one, and the rows came in batches."""
        self.error: Optional[str] = None
        self.lines: dict[str, int] = {}
        self.frames: list[Any] = []
        """The user's frames innermost first, file, line and function of each in turn (see `sites.walk`)."""
        self.in_flush = False
        self.flush: Optional[tuple[int, int]] = None
        """(session number, flush number) of the ORM flush that ran it (see `_flush_started`)."""
        self.request: Optional[tuple[str, int]] = None

    @property
    def cache(self) -> str:
        return _compat.cache_state(self.cache_outcome, self.compiled)

    def origin(self, memo: dict[Any, Optional[str]]) -> str:
        """Where the statement came from; ORM answers are kept in `memo` for the other
        records of the same report (see `_compat.orm_origin`)."""
        try:
            origin = _compat.orm_origin(self.statement, self.options, memo)
        except Exception:  # a statement shape the ORM checks do not know: not worth the report
            origin = None
        if origin is not None:
            return origin
        return "flush" if self.in_flush else "core"


_this_thread = threading.local()


def _thread_name() -> str:
    """The current thread's name, looked up once per thread (the lookup costs two frames)."""
    name: Optional[str] = getattr(_this_thread, "name", None)
    if name is None:
        name = _this_thread.name = threading.current_thread().name
    return name


class Recorder:
    """Collects the statements and ORM loads of one profile.

    `filenames` are the files of the profiled code: the innermost frame of one of them
    gives a statement its line.  `engines` limits capture to those engines (None: all).
    `user_packages` are installed packages whose frames count as the user's own code.
    """

    def __init__(
        self,
        filenames: Iterable[str] = (),
        engines: Optional[Iterable[Engine]] = None,
        max_statements: int = 20_000,
        user_packages: Iterable[str] = (),
    ) -> None:
        self.filenames = frozenset(filenames)
        self.user_packages = tuple(user_packages)
        self.sites: Optional[SiteFinder] = None
        self.engines = None if engines is None else tuple(engines)
        self.max_statements = max_statements
        self.records: list[StatementRecord] = []
        self.dropped = 0
        self.dropped_duration_s = 0.0
        self.objects_loaded: collections.Counter[type] = collections.Counter()
        """ORM objects loaded while this recorder ran, per class (filled when it stops)."""
        self.loads_at_start: collections.Counter[type] = collections.Counter()
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
        self.sites = SiteFinder(self.filenames, self.user_packages)
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
        recorder.loads_at_start = tally_loads()
        _active = (*_active, recorder)


def _stop(recorder: Recorder) -> None:
    global _active
    with _lock:
        if recorder not in _active:
            return
        recorder.objects_loaded = tally_loads() - recorder.loads_at_start
        _active = tuple(r for r in _active if r is not recorder)
        if not _active:
            _uninstall()
            _forget_loads()


def listeners_installed() -> bool:
    """True while any listener of this module is registered (used to prove none leak)."""
    return any(event.contains(target, name, fn) for target, name, fn, _ in _LISTENERS)


def _do_execute(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    # The hot path: one frame around the DBAPI call, then the record.  SQL and parameters
    # are what the cursor receives (each insertmanyvalues batch passes through here).
    # The three listeners are written out rather than made by one factory, and the record
    # is made in as few calls as its parts allow: every call here is a frame cProfile
    # times for each statement (a generic listener measured 1 µs more per statement).
    if not _active or context is None:
        return False
    dialect = context.dialect
    listeners = dialect.dispatch.do_execute
    last = type(listeners) is _CLASS_LEVEL_ONLY and _listeners_in_order(listeners)[-1] is _do_execute
    start = time.perf_counter()
    try:
        if last or not _later_listener_executed(
            listeners, _do_execute, cursor, statement, parameters, context
        ):
            dialect.do_execute(cursor, statement, parameters, context)
    except BaseException as error:
        _failed(error, statement, parameters, context, start, sys._getframe(1))
        raise
    end = time.perf_counter()
    caller = sys._getframe(1)
    try:  # noqa: SIM105 - `contextlib.suppress` would cost two profiled frames a statement
        _executed(
            cursor,
            statement,
            parameters,
            context,
            _execute_style(context) is not _SINGLE and not _compat.is_side_execution(caller),
            start,
            end,
            caller,
        )
    except Exception:  # see `_executed`
        pass
    return True


def _do_executemany(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    if not _active or context is None:
        return False
    dialect = context.dialect
    listeners = dialect.dispatch.do_executemany
    last = type(listeners) is _CLASS_LEVEL_ONLY and _listeners_in_order(listeners)[-1] is _do_executemany
    start = time.perf_counter()
    try:
        if last or not _later_listener_executed(
            listeners, _do_executemany, cursor, statement, parameters, context
        ):
            dialect.do_executemany(cursor, statement, parameters, context)
    except BaseException as error:
        _listed_sets(_failed(error, statement, parameters, context, start, sys._getframe(1)))
        raise
    end = time.perf_counter()
    try:  # noqa: SIM105
        _listed_sets(_executed(cursor, statement, parameters, context, True, start, end, sys._getframe(1)))
    except Exception:
        pass
    return True


def _listed_sets(record: Optional[StatementRecord]) -> None:
    """Mark the record of a `cursor.executemany` as holding a list of parameter sets, of
    which it keeps those the report shows (`kept_sets`).  Never raises: on the failure
    path, the user's exception is what must propagate."""
    if record is None:
        return
    try:
        record.parameters, record.sets = kept_sets(record.parameters)
        record.listed = True
    except Exception:  # a parameter container that does not behave as a sequence: kept whole
        pass


def _do_execute_no_params(cursor: Any, statement: str, context: Any) -> bool:
    if not _active or context is None:
        return False
    parameters = context.parameters[0] if context.parameters else ()
    dialect = context.dialect
    listeners = dialect.dispatch.do_execute_no_params
    last = (
        type(listeners) is _CLASS_LEVEL_ONLY and _listeners_in_order(listeners)[-1] is _do_execute_no_params
    )
    start = time.perf_counter()
    try:
        if last or not _later_listener_executed(listeners, _do_execute_no_params, cursor, statement, context):
            dialect.do_execute_no_params(cursor, statement, context)
    except BaseException as error:
        _failed(error, statement, parameters, context, start, sys._getframe(1))
        raise
    end = time.perf_counter()
    try:  # noqa: SIM105
        _executed(cursor, statement, parameters, context, False, start, end, sys._getframe(1))
    except Exception:
        pass
    return True


_SINGLE = _compat.SINGLE_EXECUTE_STYLE
_execute_style = _compat.execute_style
_listeners_in_order = _compat.listeners_in_order
_execution_facts = _compat.execution_facts
_CURSOR = _compat.CURSOR
_CLASS_LEVEL_ONLY = _compat.CLASS_LEVEL_LISTENERS_ONLY
"""An event whose listeners are all class-level: if ours is the last, none runs after it
and the general walk (two more frames a statement) is skipped."""


def _later_listener_executed(listeners: Any, ours: Any, *arguments: Any) -> bool:
    """Call the listeners SQLAlchemy orders after ours, as it would have: until one
    returns True, saying it made the DBAPI call itself."""
    after_ours = False
    for listener in listeners:
        if after_ours:
            if listener(*arguments):
                return True
        elif listener is ours:
            after_ours = True
    return False


def _executed(
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
    start: float,
    end: float,
    caller: types.FrameType,
) -> Optional[StatementRecord]:
    """Record a statement that ran (its record, if kept).  The listeners swallow what this
    raises: a failure here must not fail a statement that has run (the caller could retry
    an INSERT that happened); the statement is then just not recorded."""
    # A statement SQLAlchemy runs first on the same context (a pre-executed default) may
    # have left our wrapper as `context.cursor`: this one then ran through it.
    real = cursor._cursor if type(cursor) in _WRAPPERS else cursor
    if real is not cursor and getattr(context, _CURSOR) is cursor:
        setattr(context, _CURSOR, real)
    if len(_loaded_classes) > LOADED_CLASSES_HELD:
        tally_loads()
    record = _record(statement, parameters, context, executemany, start, end, caller)
    if record is None:
        return None
    record.rowcount = real.rowcount
    if executemany:
        return record
    description = real.description
    if description is not None:
        record.rows = 0
        setattr(context, _CURSOR, CountingCursor.around(real, record, description))
    elif _compat.is_server_side(context):
        record.rows = 0
        setattr(context, _CURSOR, StreamingCountingCursor.around(real, record, None))
    return record


def _failed(
    error: BaseException, statement: str, parameters: Any, context: Any, start: float, caller: Any
) -> Optional[StatementRecord]:
    try:
        end = time.perf_counter()
        record = _record(statement, parameters, context, bool(context.executemany), start, end, caller)
        if record is not None:
            record.error = f"{type(error).__name__}: {safe_text(error)}"
        return record
    except Exception:  # the user's exception is what must propagate
        return None


def _record(
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
    start: float,
    end: float,
    caller: types.FrameType,
) -> Optional[StatementRecord]:
    """The record of one execution, kept by every recorder that accepts its engine."""
    recorders = _active
    engine = context.root_connection.engine
    if len(recorders) == 1:
        recorder = recorders[0]
        if recorder.engines is not None and not recorder.accepts(engine):
            return None
        record = StatementRecord(statement, parameters, executemany, start, end - start, engine, context)
        finder = recorder.sites
        if finder is not None:
            record.lines, record.frames, record.in_flush, record.request = walk(caller, finder)
            if record.in_flush:
                record.flush = getattr(_this_thread, "flush", None)
        records = recorder.records
        if len(records) < recorder.max_statements:
            records.append(record)
        else:
            recorder.add(record)
        return record
    targets = [r for r in recorders if r.accepts(engine)]
    if not targets:
        return None
    record = StatementRecord(statement, parameters, executemany, start, end - start, engine, context)
    finder = targets[0].sites
    if finder is not None:
        record.lines, record.frames, record.in_flush, record.request = walk(caller, finder)
        if record.in_flush:
            record.flush = getattr(_this_thread, "flush", None)
    # The other recorders' files are found by their own walk for their lines only.
    for other in targets[1:]:
        if other.sites is not None and not other.filenames <= record.lines.keys():
            record.lines = {**walk(caller, other.sites)[0], **record.lines}
    for recorder in targets:
        recorder.add(record)
    return record


# -- ORM objects loaded -------------------------------------------------------------
#
# The mapper `load` event fires once per object the ORM makes from a row.  The listener
# notes the object's class and nothing else: neither its `InstanceState` nor the
# `QueryContext` is kept, so loaded objects die with the user's last reference to them
# (a streamed result stays bounded and nothing is left to free after the profiled code).
# `list.append` is atomic, so threads loading at once lose no count; the noted classes
# are tallied when a profile starts or stops, and whenever more than
# `LOADED_CLASSES_HELD` wait (checked at each statement and batch fetch).

LOADED_CLASSES_HELD = 20_000
_loaded_classes: list[type] = []
_loaded_totals: collections.Counter[type] = collections.Counter()
_tally_lock = threading.Lock()
_note_class = _loaded_classes.append
_RUN_CLASS = operator.itemgetter(0)
_CLASSES_COUNTED_ONE_BY_ONE = 32
"""Up to this many distinct classes in a tally are counted class by class (`tally_loads`)."""


def _note_load(state: Any, context: Any) -> None:
    _note_class(state.class_)


def tally_loads() -> collections.Counter[type]:
    """Move the noted classes into the per-class totals; a copy of the totals."""
    with _tally_lock:
        noted = len(_loaded_classes)
        # Only what was counted is removed: a class noted meanwhile by another thread stays.
        counted = _loaded_classes[:noted]
        # In the order first loaded, as `update` counts; read by run of one class (a query
        # loads its rows' objects one after another), not by object.
        classes = dict.fromkeys(map(_RUN_CLASS, itertools.groupby(counted)))
        if len(classes) <= _CLASSES_COUNTED_ONE_BY_ONE:
            # `list.count` per class allocates one int per class, where `Counter.update`
            # makes an int per object: under tracemalloc (on by default) each is traced.
            for cls in classes:
                _loaded_totals[cls] += counted.count(cls)
        else:
            _loaded_totals.update(counted)
        del _loaded_classes[:noted]
        return _loaded_totals.copy()


def _forget_loads() -> None:
    """Drop the totals, which hold the classes, once no profile is running."""
    with _tally_lock:
        _loaded_classes.clear()
        _loaded_totals.clear()


# -- ORM flushes ----------------------------------------------------------------------
#
# Which session a flush belongs to, and which flush it is, noted per thread when a flush
# starts (a flush runs on one thread, in a greenlet of it for async sessions) and read by
# the statements that the stack shows inside a unit of work.  Sessions are numbered
# through weak keys: a session made per loop iteration gets a new number even where it
# reuses a freed one's address.

_session_numbers: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_sessions_counted = itertools.count()
_flushes_counted = itertools.count()


def _flush_started(session: Any, flush_context: Any, instances: Any) -> None:
    try:
        number = _session_numbers.get(session)
        if number is None:
            number = _session_numbers[session] = next(_sessions_counted)
        _this_thread.flush = (number, next(_flushes_counted))
    except Exception:  # the user's flush must go on whatever this meets
        pass


_LISTENERS: tuple[tuple[Any, str, Any, dict[str, Any]], ...] = (
    # Dialect events on `Engine`: every engine's dialect.  Unlike the connection events
    # they leave SQLAlchemy's per-execution event dispatch off for engines without
    # listeners of their own.
    (Engine, "do_execute", _do_execute, {}),
    (Engine, "do_executemany", _do_executemany, {}),
    (Engine, "do_execute_no_params", _do_execute_no_params, {}),
    # raw: the `InstanceState`, without SQLAlchemy's wrapper frame per loaded object.
    (Mapper, "load", _note_load, {"raw": True}),
    (Session, "before_flush", _flush_started, {}),
)


def _install() -> None:
    for target, name, fn, options in _LISTENERS:
        event.listen(target, name, fn, **options)


def _uninstall() -> None:
    for target, name, fn, _ in _LISTENERS:
        if event.contains(target, name, fn):
            event.remove(target, name, fn)


class CountingCursor:
    """Stands in for the DBAPI cursor of a row-returning statement to count and time fetches.

    Installed as `context.cursor` right after the DBAPI call, before SQLAlchemy builds the
    result, so the result's fetch strategy reads rows through it.  Everything else is
    delegated to the real cursor.  It is made once per statement: `around` fills its slots
    with C calls only, and `close` and `description` are the real cursor's own, so that
    cProfile times no frame of ours for them.
    """

    __slots__ = ("_cursor", "_record", "close", "description")

    @classmethod
    def around(cls, cursor: Any, record: StatementRecord, description: Any) -> CountingCursor:
        counting = _new_object(cls)
        _set_cursor(counting, cursor)
        _set_record(counting, record)
        _set_close(counting, cursor.close)
        _set_description(counting, description)
        return counting

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
        record = self._record
        record.fetch_s += time.perf_counter() - start
        if rows:
            record.rows = (record.rows or 0) + len(rows)
            record.batches += 1
        if len(_loaded_classes) > LOADED_CLASSES_HELD:  # the objects of a streamed result
            tally_loads()
        return rows

    def fetchall(self) -> Any:
        start = time.perf_counter()
        rows = self._cursor.fetchall()
        record = self._record
        record.fetch_s += time.perf_counter() - start
        record.rows = (record.rows or 0) + len(rows)
        return rows

    def __iter__(self) -> Iterator[Any]:
        for row in self._cursor:
            self._record.rows = (self._record.rows or 0) + 1
            yield row

    @property
    def rowcount(self) -> Any:
        return self._cursor.rowcount

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._cursor, name, value)


class StreamingCountingCursor(CountingCursor):
    """A `CountingCursor` for a server-side cursor, whose `description` stays None until
    the first fetch: read from the real cursor each time."""

    __slots__ = ()

    @property
    def description(self) -> Any:
        return self._cursor.description


_WRAPPERS = (CountingCursor, StreamingCountingCursor)
_new_object = object.__new__
_set_cursor = CountingCursor._cursor.__set__  # type: ignore[attr-defined]
_set_record = CountingCursor._record.__set__  # type: ignore[attr-defined]
_set_close = CountingCursor.close.__set__  # type: ignore[attr-defined]
_set_description = CountingCursor.description.__set__  # type: ignore[attr-defined]
