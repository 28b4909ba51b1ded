"""Start every recorder, run the code, stop them all: the captured run as a raw `Report`.

Capture only records.  The recorders are entered through one `ExitStack`, so stopping
(or a recorder that fails to start) undoes every step taken, in reverse order, whatever
the profiled code raised.  What happens to the recording afterwards (rules, EXPLAIN,
privacy) is `sqla_magic.pipeline`'s business.
"""

from __future__ import annotations

import contextlib
import cProfile
import datetime
import itertools
import operator
import sys
import time
import types
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional, cast

import sqlalchemy

from sqla_magic import _compat, privacy
from sqla_magic.capture.callgraph import CallGraph, build_call_graph
from sqla_magic.capture.memory import AllocatedPeak, LineMemory, PeakRss
from sqla_magic.capture.params import display_params, safe_text, truncate
from sqla_magic.capture.statements import Recorder, StatementRecord
from sqla_magic.model import (
    LAYERS,
    CapturedWarning,
    CellError,
    Memory,
    Report,
    Site,
    Statement,
    collector_paused,
)
from sqla_magic.sqltext import fingerprint


@dataclass(frozen=True)
class Options:
    """What to record; the magic's options map onto these one to one."""

    memory: bool = True
    allocations: bool = False
    """Trace every allocation (tracemalloc) for the memory headline: what the code allocated
    at its highest.  Off, the headline is the resident peak, which costs nothing while the
    code runs; tracing costs about as much again as cProfile on allocation-heavy code."""
    memory_lines: bool = False
    call_tree: bool = True
    explain: bool = True
    explain_analyze: bool = False
    findings: bool = True
    engines: Optional[tuple[Any, ...]] = None
    max_statements: int = 20_000
    thresholds: Any = None
    """`sqla_magic.analysis.thresholds.Thresholds` for the rules (None: their defaults)."""
    user_packages: tuple[str, ...] = ()
    """Installed packages whose code counts as the user's own (for `Statement.site`)."""


@dataclass
class Recording:
    """Everything a finished run captured, before it becomes a `Report`."""

    report: Report
    records: list[StatementRecord] = field(default_factory=list)
    passwords: set[str] = field(default_factory=set)
    """Passwords of the connections opened while it ran (`privacy.watch_connections`)."""


class Profiler:
    """Start/stop capture around code that is not a single Python block (a notebook cell)."""

    def __init__(
        self,
        options: Options = Options(),
        filenames: Iterable[str] = (),
        source: str = "",
    ) -> None:
        self.options = options
        self.filenames = frozenset(filenames)
        self.source = source
        self.notes: list[str] = []
        self.warnings: list[CapturedWarning] = []
        self._passwords: set[str] = set()
        self.recorder = Recorder(
            self.filenames, options.engines, options.max_statements, user_packages=options.user_packages
        )
        self._cprofile: Optional[cProfile.Profile] = None
        self._peak: Optional[PeakRss] = None
        self._lines: Optional[LineMemory] = None
        self._showwarning: Any = None
        self._installed = contextlib.ExitStack()
        self._peak_bytes: Optional[int] = None
        self._allocated_bytes: Optional[int] = None
        self._started_at = ""
        self._wall0 = 0.0
        self._cpu0 = 0.0
        self._running = False
        self._direct_calls = False
        self._reads: Optional[_compat.RelationshipReads] = None

    # -- start / stop ------------------------------------------------------------------

    def start(self, running_frame: Optional[types.FrameType] = None) -> None:
        """Install every recorder; if one fails, the ones already installed are removed."""
        options = self.options
        self._direct_calls = running_frame is not None
        self._started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        with contextlib.ExitStack() as installed:
            installed.enter_context(self._warnings_recorded())
            if options.memory_lines and options.memory:
                lines = LineMemory(self.filenames)
                note = lines.start(running_frame)
                if note:
                    self.notes.append(note)
                else:
                    self._lines = lines
                    installed.callback(lines.stop)
            if options.memory:
                resident = self._peak = PeakRss()
                resident.start()
                installed.callback(self._stop_peak, resident)
            if options.memory and options.allocations and self._lines is None:
                allocated = AllocatedPeak()
                allocated.start()
                installed.callback(self._stop_allocated, allocated)
            self._passwords = installed.enter_context(privacy.watch_connections())
            installed.enter_context(self.recorder)
            reads = self._reads = _compat.RelationshipReads()
            installed.callback(reads.stop)
            reads.start()
            if options.call_tree:
                installed.callback(self._stop_call_tree)
            self._installed = installed.pop_all()
        if options.call_tree:
            # Started last and stopped first, outside the stack, so that none of the
            # capture's own setup and teardown shows in the call tree or its overhead.
            try:
                self._cprofile = self._start_call_tree()
            except BaseException:
                self._installed.close()
                raise
        self._running = True
        self._wall0 = time.perf_counter()
        self._cpu0 = time.process_time()

    def _start_call_tree(self) -> Optional[cProfile.Profile]:
        """A running cProfile, or None and a note when another profiler holds the hook."""
        other = other_profiler()
        if other is not None:
            self.notes.append(f"call tree not recorded: another profiler is active ({other})")
            return None
        # C functions are left out: their time stays in their Python caller's self
        # time, and leaving them out takes a tenth off the profiling overhead.
        profiler = cProfile.Profile(builtins=False)
        try:
            profiler.enable()
        except (ValueError, RuntimeError) as problem:  # taken between the check and here
            self.notes.append(f"call tree not recorded: {problem}")
            return None
        return profiler

    def stop(self, error: Optional[BaseException] = None) -> Recording:
        """Stop every recorder and build the raw report (no findings, plans or masking)."""
        wall = time.perf_counter() - self._wall0
        cpu = time.process_time() - self._cpu0
        try:
            if self._cprofile is not None:
                self._cprofile.disable()
        finally:
            try:
                self._installed.close()
            finally:
                self._running = False
        with collector_paused():
            return self._build(wall, cpu, self._peak_bytes, error)

    def _stop_call_tree(self) -> None:
        if self._cprofile is not None:
            self._cprofile.disable()

    @contextlib.contextmanager
    def _warnings_recorded(self) -> Iterator[None]:
        self._showwarning = warnings.showwarning
        warnings.showwarning = self._record_warning  # type: ignore[assignment]
        try:
            yield
        finally:
            warnings.showwarning = self._showwarning

    def _stop_peak(self, peak: PeakRss) -> None:
        self._peak_bytes = peak.stop()

    def _stop_allocated(self, allocated: AllocatedPeak) -> None:
        self._allocated_bytes = allocated.stop()

    @property
    def running(self) -> bool:
        return self._running

    def _record_warning(self, message: Any, category: type, filename: str, lineno: int, *rest: Any) -> None:
        line = lineno if filename in self.filenames else None
        self.warnings.append(CapturedWarning(category.__name__, str(message), line, filename))
        if self._showwarning is not None:
            self._showwarning(message, category, filename, lineno, *rest)

    # -- the report --------------------------------------------------------------------

    def _build(
        self, wall: float, cpu: float, peak: Optional[int], error: Optional[BaseException]
    ) -> Recording:
        recorder = self.recorder
        filename = min(self.filenames) if self.filenames else ""
        statements = _statements(recorder.records, filename, recorder.started)
        graph = (
            build_call_graph(self._cprofile, self.filenames, direct_calls=self._direct_calls, wall_s=wall)
            if self._cprofile is not None
            else None
        )
        notes = list(self.notes)
        if graph is not None and graph.truncated:
            notes.append(f"call tree cut at {graph.nodes} nodes; the time below is kept in its parent")
        if recorder.dropped:
            notes.append(
                f"{recorder.dropped} more statements ran and were not kept "
                f"(cap: {recorder.max_statements}); their time still counts"
            )
        report = Report(
            wall_s=wall,
            cpu_s=cpu,
            statements=statements,
            layers=_layers(wall, statements, recorder, graph),
            call_tree=graph.tree if graph is not None else None,
            memory=self._memory(peak, filename),
            source=self.source,
            filename=filename,
            started_at=self._started_at,
            objects_loaded=_objects(recorder),
            warnings=tuple(self.warnings),
            error=cell_error(error, self.filenames),
            notes=tuple(notes),
            dropped_statements=recorder.dropped,
            versions={"sqlalchemy": sqlalchemy.__version__, "python": sys.version.split()[0]},
            relationship_reads=self._reads.outcome() if self._reads is not None else None,
        )
        return Recording(report=report, records=list(recorder.records), passwords=set(self._passwords))

    def _memory(self, peak: Optional[int], filename: str) -> Optional[Memory]:
        resident = peak if self._peak is not None else None
        if self._lines is not None:
            return Memory(
                peak_bytes=self._lines.peak_bytes,
                lines=self._lines.table(filename, self.source),
                method="tracemalloc",
                start_bytes=self._lines.start_bytes,
                resident_bytes=resident,
            )
        if self._allocated_bytes is not None:
            held = held_by_records(self.recorder.records)
            return Memory(
                peak_bytes=max(self._allocated_bytes - held, 0),
                method="tracemalloc",
                resident_bytes=resident,
                profiler_bytes=held,
            )
        if resident is not None and self._peak is not None:
            held = held_by_records(self.recorder.records)
            return Memory(
                peak_bytes=max(resident - held, 0),
                method="rss",
                start_bytes=self._peak.start_bytes,
                resident_bytes=resident,
                profiler_bytes=held,
            )
        return None


def held_by_records(records: list[StatementRecord]) -> int:
    """Bytes the statement records keep that the code would not have kept unprofiled: the
    records with their numbers and line and frame tables, and the parameters the cursor
    took where nothing else holds them (a value the user's data also holds is not counted).

    Read in C passes over all the records rather than a Python loop per record and frame.
    A reference count read through `map` misses a loop's own name: an object held by one
    container alone shows two, or three where it is also in a list made here."""
    size, refs = sys.getsizeof, sys.getrefcount
    if not records:
        return size(records)
    total = size(records) + (size(records[0]) + _FLOATS_BYTES) * len(records)
    total += _sizes(list(map(_LINES, records)))
    # Frames are flat lists of their code's names and their line numbers (numbers above
    # 256, 28 bytes each, are left out).
    total += _sizes(list(map(_FRAMES, records)))
    alone = list(map(operator.ge, _TWOS, map(refs, map(_PARAMETERS, records))))
    if not any(alone):
        return total
    candidates = list(itertools.compress(records, alone))
    containers = list(map(isinstance, map(_PARAMETERS, candidates), itertools.repeat(_CONTAINERS)))
    kept = list(itertools.compress(candidates, containers))
    parameters = list(map(_PARAMETERS, kept))
    total += _sizes(parameters)
    singles = parameters
    if any(map(_EXECUTEMANY, kept)):
        many = list(
            map(
                operator.and_,
                map(_EXECUTEMANY, kept),
                map(isinstance, parameters, itertools.repeat((list, tuple))),
            )
        )
        for rows in itertools.compress(parameters, many):
            total += _many_held(rows)
        singles = list(itertools.compress(parameters, map(operator.not_, many)))
    dicts = list(map(isinstance, singles, itertools.repeat(dict)))
    values = list(
        itertools.chain(
            itertools.chain.from_iterable(map(_VALUES, itertools.compress(singles, dicts))),
            itertools.chain.from_iterable(itertools.compress(singles, map(operator.not_, dicts))),
        )
    )
    return total + _sizes(
        list(itertools.compress(values, list(map(operator.ge, _THREES, map(refs, values)))))
    )


def _sizes(objects: list[Any]) -> int:
    """`sum(map(sys.getsizeof, objects))`; for objects all of one built-in type (containers,
    numbers, strings) in `__sizeof__` calls, a third of the cost: `getsizeof` adds to it a
    header that depends on the type alone."""
    kinds = set(map(type, objects))
    if len(kinds) == 1:
        (kind,) = kinds
        header = _HEADERS.get(kind)
        if header is not None:
            sizeof = cast(Callable[[Any], int], kind.__sizeof__)
            return sum(map(sizeof, objects)) + header * len(objects)
    return sum(map(sys.getsizeof, objects))


def _many_held(rows: Any) -> int:
    """`held_by_records`' count for an executemany's rows (a list or tuple of them)."""
    many = _rows_held(rows)
    if many is not None:
        return many
    size, refs = sys.getsizeof, sys.getrefcount
    total = 0
    for row in rows:
        if isinstance(row, _CONTAINERS) and refs(row) <= 3:
            total += size(row) + _values_held(row)
    return total


def _values_held(row: Any) -> int:
    size, refs = sys.getsizeof, sys.getrefcount
    return sum(size(value) for value in (row.values() if isinstance(row, dict) else row) if refs(value) <= 3)


def _rows_held(rows: Any) -> Optional[int]:
    """`held_by_records`' count for an executemany's rows that are all dicts or all tuples,
    in C calls rather than two Python frames a row (a bulk insert has thousands), or None
    for other rows.  A reference count read through `map` misses the loop's own name: an
    object held by one container alone shows two, its values (also in `values`) three."""
    kinds = set(map(type, rows))
    if len(kinds) != 1 or not kinds <= _ROW_TYPES:
        return None
    refs = sys.getrefcount
    held = list(itertools.compress(rows, list(map(operator.ge, _TWOS, map(refs, rows)))))
    values = list(itertools.chain.from_iterable(map(dict.values, held) if dict in kinds else held))
    kept = list(itertools.compress(values, list(map(operator.ge, _THREES, map(refs, values)))))
    return _sizes(held) + _sizes(kept)


_LINES = operator.attrgetter("lines")
_FRAMES = operator.attrgetter("frames")
_PARAMETERS = operator.attrgetter("parameters")
_EXECUTEMANY = operator.attrgetter("executemany")
_VALUES = operator.methodcaller("values")
_TWOS, _THREES = itertools.repeat(2), itertools.repeat(3)
_HEADERS: dict[type, int] = {
    kind: sys.getsizeof(kind()) - kind().__sizeof__() for kind in (dict, list, tuple, int, float, str, bytes)
}
"""What `sys.getsizeof` adds to `__sizeof__` for these types (the cycle collector's header, if any)."""
_ROW_TYPES = frozenset((dict, tuple))
_CONTAINERS = (tuple, list, dict)
_FLOATS_BYTES = 3 * sys.getsizeof(0.5)
"""A record's start, duration and fetch time."""


def other_profiler() -> Optional[str]:
    """Who already profiles this process, if anyone: a `sys.setprofile` hook in this
    thread, or (Python 3.12+, where cProfile runs on `sys.monitoring`) the tool holding
    the profiler slot, which is process-wide."""
    if sys.getprofile() is not None:
        return "a sys.setprofile hook in this thread"
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is not None:
        tool = monitoring.get_tool(monitoring.PROFILER_ID)
        if tool is not None:
            return str(tool)
    return None


class _Places:
    """One `Site` per place and one stack per distinct chain, shared by the statements of a
    report (an N+1's hundreds of statements share a handful of places), and requests,
    sessions and flushes numbered in the order they first ran."""

    def __init__(self) -> None:
        self.sites: dict[tuple[str, int, str], Site] = {}
        self.requests: dict[int, int] = {}
        self.sessions: dict[int, int] = {}
        self.flushes: dict[int, int] = {}

    def stack(self, chain: tuple[Any, ...]) -> tuple[tuple[Site, ...], Optional[Site]]:
        """The frames (flat: file, line, function of each, as `sites.walk` notes them) as a
        stack of shared `Site`s, innermost first, and the innermost."""
        sites = self.sites
        each = iter(chain)
        frames = zip(each, each, each, strict=True)
        stack = tuple(sites.get(frame) or sites.setdefault(frame, Site(*frame)) for frame in frames)
        return stack, stack[0]

    def request(self, number: int) -> int:
        return self.requests.setdefault(number, len(self.requests))

    def session(self, number: int) -> int:
        return self.sessions.setdefault(number, len(self.sessions))

    def flush(self, number: int) -> int:
        return self.flushes.setdefault(number, len(self.flushes))


def _statements(records: list[StatementRecord], filename: str, started: float) -> tuple[Statement, ...]:
    """The report's statements, one per record.

    What depends only on the SQL string (the fingerprint), on the execution's shape (the
    statement object, its execution options, engine, cache state and whether a flush ran
    it: origin, URL, dialect, cache word, streaming) or on the chain of frames (the sites)
    is worked out once per distinct value, since a workload repeats a few of each many
    times; each record then costs a few dict lookups and one row of field values.
    """
    shapes: dict[tuple[int, int, int, int, bool, bool], tuple[str, str, str, str, bool]] = {}
    origins: dict[Any, Optional[str]] = {}
    engines: dict[int, tuple[str, str]] = {}
    fingerprints: dict[str, str] = {}
    stacks: dict[tuple[Any, ...], tuple[tuple[Site, ...], Optional[Site]]] = {}
    no_stack: tuple[tuple[Site, ...], Optional[Site]] = ((), None)
    places = _Places()
    rows = []
    for record in records:
        key = (
            id(record.statement),
            id(record.options),
            id(record.engine),
            id(record.cache_outcome),
            record.compiled,
            record.in_flush,
        )
        shape = shapes.get(key)
        if shape is None:
            shape = shapes[key] = _shape(record, origins, engines)
        sql = record.sql
        shape_of_sql = fingerprints.get(sql)
        if shape_of_sql is None:
            shape_of_sql = fingerprints[sql] = fingerprint(sql)
        executemany = record.executemany
        shown = display_params(record.parameters, record.listed, record.sets)
        frames = record.frames
        if frames:
            chain = tuple(frames)
            stack = stacks.get(chain)
            if stack is None:
                stack = stacks[chain] = places.stack(chain)
        else:
            stack = no_stack
        start = record.start - started
        request = record.request
        flush = record.flush
        error = record.error
        rows.append(
            (
                sql,
                shown,
                record.duration_s,
                record.rowcount,
                executemany,
                shape_of_sql,
                shape[0],
                record.lines.get(filename),
                shape[1],
                shape[2],
                record.thread,
                shape[3],
                record.rows,
                record.fetch_s,
                start if start > 0.0 else 0.0,
                record.sets,
                truncate(error, 2000) if error else None,
                shape[4] or record.batches > 1,
                stack[1],
                stack[0],
                request[0] if request is not None else None,
                places.request(request[1]) if request is not None else None,
                places.session(flush[0]) if flush is not None else None,
                places.flush(flush[1]) if flush is not None else None,
            )
        )
    return Statement.from_rows(rows)


def _shape(
    record: StatementRecord, origins: dict[Any, Optional[str]], engines: dict[int, tuple[str, str]]
) -> tuple[str, str, str, str, bool]:
    """(cache word, origin, URL, dialect, streamed) of the record's execution shape; the
    origin's parts are kept in `origins`, each engine's URL and dialect in `engines`."""
    engine, options = record.engine, record.options
    named = engines.get(id(engine))
    if named is None:
        named = engines[id(engine)] = (_url(engine), engine.dialect.name)
    return (
        record.cache,
        record.origin(origins),
        *named,
        bool(options.get("yield_per") or options.get("stream_results")),
    )


_URLS: weakref.WeakKeyDictionary[Any, tuple[Any, str]] = weakref.WeakKeyDictionary()
"""Rendered URL per engine, dropped with the engine (a process may create engines without end)."""


def _url(engine: Any) -> str:
    cached = _URLS.get(engine)
    if cached is None or cached[0] is not engine.url:
        cached = _URLS[engine] = (engine.url, _compat.engine_url(engine))
    return cached[1]


def _layers(
    wall: float, statements: tuple[Statement, ...], recorder: Recorder, graph: Optional[CallGraph]
) -> dict[str, float]:
    """Seconds per layer, adding up to `wall`.

    With a call tree, every layer comes from it (one clock, this thread).  Without one,
    only database and fetch are known, from the statements themselves.
    """
    seconds = dict.fromkeys(LAYERS, 0.0)
    if graph is not None and graph.tree is not None:
        for layer in LAYERS[:-1]:
            seconds[layer] = graph.layer_seconds.get(layer, 0.0)
    else:
        seconds["database"] = sum(s.duration_s for s in statements) + recorder.dropped_duration_s
        seconds["fetch"] = sum(s.fetch_s for s in statements)
    known = sum(seconds.values())
    if known > wall > 0:
        seconds = {k: v * wall / known for k, v in seconds.items()}
        known = wall
    seconds["python"] = max(wall - known, 0.0)
    return seconds


def _objects(recorder: Recorder) -> dict[str, int]:
    objects: dict[str, int] = {}
    for cls, count in recorder.objects_loaded.most_common():
        objects[cls.__name__] = objects.get(cls.__name__, 0) + count
    return objects


def cell_error(error: Optional[BaseException], filenames: frozenset[str]) -> Optional[CellError]:
    if error is None:
        return None
    line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in filenames:
            line = tb.tb_lineno
        tb = tb.tb_next
    return CellError(type=type(error).__name__, message=truncate(safe_text(error), 2000), line=line)


def sync_engines(engines: Optional[tuple[Any, ...]]) -> Optional[tuple[Any, ...]]:
    """Engines as the events see them: an `AsyncEngine` becomes its `sync_engine`."""
    if engines is None:
        return None
    resolved = []
    for engine in engines:
        engine = getattr(engine, "sync_engine", engine)
        if not isinstance(engine, sqlalchemy.engine.Engine):
            raise TypeError(f"not a SQLAlchemy engine: {engine!r}")
        resolved.append(engine)
    return tuple(resolved)
