"""The report model: plain, frozen data that every other stage reads or produces.

A `Report` holds only JSON-friendly values (numbers, strings, tuples, mappings and
the dataclasses below), so `Report.from_json(report.to_json()) == report` holds and
saved reports can serve as fixtures and as what the renderers read.  Nothing here
imports the rest of the package.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import gc
import itertools
import json
import operator
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:
    import pstats as pstats_module

LAYERS = ("database", "fetch", "compile", "orm_load", "flush", "mapper_config", "python")
"""The layers of `Report.layers`, in display order."""

CACHE_STATES = ("generated", "cached", "no key", "no cache", "unknown")
"""The values of `Statement.cache`, worded as SQLAlchemy's own engine logging words them."""

SEVERITIES = ("high", "medium", "low")

JSONValue = Any
"""A value made only of None, bool, int, float, str, lists/tuples and str-keyed dicts."""


FORMAT_VERSION = 1
"""Version of `Report.to_dict`'s layout: raised when a field changes meaning or goes away.
Reports written before it existed (no `format` key) are version 0 and read the same way."""


@contextlib.contextmanager
def collector_paused() -> typing.Iterator[None]:
    """The cycle collector paused while a report is built or read: each of the many
    objects a report is made of would otherwise count towards a collection of everything
    made so far, none of which is garbage yet."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


@dataclass(frozen=True)
class Site:
    """A place in the user's own code: the cell or a module outside installed packages."""

    file: str
    """The cell's file name as Python knows it for the cell, else the module's (or template's) path."""
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}"


@dataclass(frozen=True)
class Statement:
    """One execution of SQL on a DBAPI cursor, as the engine events saw it."""

    sql: str
    params: JSONValue
    """Display copy of the parameters: long values truncated, odd types as their repr.
    For executemany, a list of the first parameter sets (see `param_sets` for the count)."""
    duration_s: float
    """Time spent in the DBAPI execute call."""
    rowcount: int
    """`cursor.rowcount` as the DBAPI (and SQLAlchemy's `CursorResult.rowcount`) reports it."""
    executemany: bool
    fingerprint: str
    """Hash of the statement's shape: literals and parameters normalised away."""
    cache: str
    """One of `CACHE_STATES`."""
    line: Optional[int]
    """Line of the profiled code that caused the statement (cell lines count the magic line as 1)."""
    origin: str
    """`query`, `lazy load Class.attr`, `eager load Class.attr`, `refresh Class`, `flush`,
    `orm statement` (ORM UPDATE/DELETE, and INSERT from SQLAlchemy 2.0, run through a
    `Session`) or `core` (also `text()` and table-only statements run through a `Session`)."""
    engine: str
    """Engine URL with the password hidden."""
    thread: str
    dialect: str = ""
    rows: Optional[int] = None
    """Rows fetched from the cursor by the time the profile ended (`None` if not known)."""
    fetch_s: float = 0.0
    """Time spent in DBAPI fetch calls for this statement."""
    start_s: float = 0.0
    """Start time relative to the start of the profile."""
    param_sets: int = 1
    """How many parameter sets the execution carried (more than one for executemany)."""
    error: Optional[str] = None
    """The DBAPI error, if the execution failed."""
    streamed: bool = False
    """Rows were streamed in batches (`yield_per` / `stream_results`, or read with `fetchmany`
    in more than one batch), not held all at once."""
    site: Optional[Site] = None
    """The innermost frame of the user's own code that caused the statement."""
    stack: tuple[Site, ...] = ()
    """Frames of the user's own code on the stack, innermost (`site`) first, out to the
    profiled code's own line."""
    request: Optional[str] = None
    """The test-client request it ran in (`GET /explore?page=2`), or None."""
    request_index: Optional[int] = None
    """Which request of the profile, counting from 0: tells apart two requests to one URL."""
    session_index: Optional[int] = None
    """For a statement of an ORM flush: which `Session` flushed it, counting from 0 in the
    order sessions first flushed; None outside a flush."""
    flush_index: Optional[int] = None
    """For a statement of an ORM flush: which flush of the profile, counting from 0."""

    @classmethod
    def from_rows(cls, rows: typing.Iterable[tuple[Any, ...]]) -> tuple[Statement, ...]:
        """Statements from rows of field values, in the order the fields are declared.

        Three to six times cheaper than `Statement(...)` per statement, which a report
        builds for every execution: the frozen `__init__` sets each field through
        `object.__setattr__`.  Here each is stored as on a plain object, and the object
        then becomes a `Statement` (`_StatementFields`); from Python 3.12 that change of
        class gives it its own attribute dict.  A subclass's are made by its `__init__`.
        """
        if cls is not Statement:
            return tuple(cls(*row) for row in rows)
        rows = list(rows)
        made = Statements(_statements_of(rows))
        made.columns = dict(zip(_STATEMENT_FIELD_ORDER, zip(*rows, strict=True), strict=True)) if rows else {}
        return made


_STATEMENT_FIELD_ORDER = tuple(f.name for f in dataclasses.fields(Statement))


class Statements(tuple[Statement, ...]):
    """A report's statements: a tuple that also holds each field's values by position
    (`column`), for readers of a whole field (the rules, the password masking), which would
    otherwise read it off every statement.  `Statement.from_rows` transposes the rows the
    statements are made of (in C); for any other, a field is read when first asked for.
    Pickled, copied or added to, it is a plain tuple."""

    columns: dict[str, tuple[Any, ...]]

    def column(self, name: str) -> tuple[Any, ...]:
        """Field `name` of every statement, in order."""
        columns: dict[str, tuple[Any, ...]] = self.__dict__.setdefault("columns", {})
        found = columns.get(name)
        if found is None:
            found = columns[name] = tuple(map(operator.attrgetter(name), self))
        return found

    def __reduce__(self) -> tuple[type, tuple[tuple[Statement, ...]]]:
        return tuple, (tuple(self),)


def field_column(items: typing.Sequence[Any], name: str) -> typing.Sequence[Any]:
    """Field `name` of every one of `items` (dataclasses), in order: a `Statements`' own
    column, else read off each item."""
    if isinstance(items, Statements):
        return items.column(name)
    return tuple(map(operator.attrgetter(name), items))


def is_one_object(values: typing.Sequence[Any]) -> bool:
    """Whether every one of `values` (at least one) is the same object: read in C by
    identity (no `__eq__` of theirs is called), stopped at the first other one."""
    if not values:
        return False
    first = values[0]
    return values[-1] is first and all(map(operator.is_, values, itertools.repeat(first)))


def run_starts(values: typing.Sequence[Any]) -> list[int]:
    """The position where each run of one object in `values` begins (by identity, found
    in C): a report's statements share their values in runs, one for a loop's."""
    if not values:
        return []
    rest = values[1:]
    return [0, *itertools.compress(range(1, len(values)), map(operator.is_not, rest, values))]


def release_columns(statements: typing.Sequence[Statement]) -> None:
    """Let go of the columns `Statements` hold (a second reference to every field of every
    statement) once the report is built: a report kept afterwards needs only its statements."""
    if isinstance(statements, Statements):
        statements.__dict__.pop("columns", None)


class _StatementFields:
    """A plain object with a `Statement`'s attributes, stored in field order, before its
    class becomes `Statement` (same layout: no slots, a `__dict__`, weak references)."""


def _row_builder(
    final: type, fields: tuple[str, ...]
) -> Callable[[typing.Iterable[tuple[Any, ...]]], list[Any]]:
    """`build(rows)`: one `final` per row of field values, assigned as one unpacking of
    plain attribute stores (written out here from `fields`, as `dataclasses` writes
    `__init__`); a row of another length raises `ValueError`."""
    targets = ", ".join(f"made.{name}" for name in fields)
    code = (
        "def build(rows):\n"
        "    built = []\n"
        "    append = built.append\n"
        "    for row in rows:\n"
        "        made = new(plain)\n"
        f"        {targets}, = row\n"
        "        made.__class__ = final\n"
        "        append(made)\n"
        "    return built\n"
    )
    namespace: dict[str, Any] = {"new": object.__new__, "plain": _StatementFields, "final": final}
    exec(code, namespace)  # the source is made above from the dataclass's own field names
    build: Callable[[typing.Iterable[tuple[Any, ...]]], list[Any]] = namespace["build"]
    return build


_statements_of = _row_builder(Statement, _STATEMENT_FIELD_ORDER)


@dataclass(frozen=True)
class CallNode:
    """A node of the cumulative call tree (cProfile), children sorted by total time."""

    name: str
    file: str
    line: int
    calls: int
    total_s: float
    self_s: float
    children: tuple[CallNode, ...] = ()
    layer: str = "python"
    """The layer its own time was counted in (one of `LAYERS`)."""
    kind: str = "library"
    """`cell` (the profiled code), `sqlalchemy`, `library`, `stdlib` or `builtin`."""

    @classmethod
    def of(
        cls,
        name: str,
        file: str,
        line: int,
        calls: int,
        total_s: float,
        self_s: float,
        children: tuple[CallNode, ...],
        layer: str,
        kind: str,
    ) -> CallNode:
        """`CallNode(...)` at half the cost: the frozen `__init__` sets each field through
        `object.__setattr__`, and a call tree may have a hundred thousand nodes."""
        node = object.__new__(cls)
        node.__dict__.update(
            name=name,
            file=file,
            line=line,
            calls=calls,
            total_s=total_s,
            self_s=self_s,
            children=children,
            layer=layer,
            kind=kind,
        )
        return node

    def walk(self) -> typing.Iterator[CallNode]:
        """Every node of the subtree, depth first."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def count(self) -> int:
        return sum(1 for _ in self.walk())


@dataclass(frozen=True)
class MemoryLine:
    """Memory seen while one line of the profiled code ran (like memory_profiler's table)."""

    line: int
    increment_bytes: int
    """Net bytes allocated and still held after the line, summed over its executions."""
    total_bytes: int
    """Traced bytes held after the line last ran."""
    source: str
    peak_bytes: int = 0
    """Highest extra memory held at once while the line ran."""
    occurrences: int = 1


@dataclass(frozen=True)
class Memory:
    peak_bytes: int
    """Highest memory growth during the profiled code, above what was held when it started,
    the profiler's own records (`profiler_bytes`) left out: with `method` `tracemalloc`,
    what the code allocated and held at its highest; with `rss`, how far the resident set
    rose.  The records are sized at the end and subtracted whole, so a peak reached before
    most statements ran is understated by up to `profiler_bytes`."""
    lines: Optional[tuple[MemoryLine, ...]] = None
    method: str = "rss"
    """What `peak_bytes` measures: `tracemalloc` (Python allocations, with `--allocations`
    or the per-line table) or `rss` (the resident set, the default)."""
    start_bytes: int = 0
    resident_bytes: Optional[int] = None
    """Growth of the process's resident high-water mark meanwhile (secondary: it grows only
    for pages the process did not have, so it varies from run to run)."""
    profiler_bytes: int = 0
    """What the profiler's own records held at the end (statement records, their parameter
    containers), subtracted from the peak."""


@dataclass(frozen=True)
class PlanNode:
    """One node of an EXPLAIN plan, in a model common to every database."""

    label: str
    detail: str = ""
    cost: Optional[float] = None
    rows: Optional[float] = None
    """Rows the planner estimated."""
    actual_rows: Optional[float] = None
    actual_time_ms: Optional[float] = None
    table: Optional[str] = None
    index: Optional[str] = None
    filter_columns: tuple[str, ...] = ()
    """Columns a scan filters on without an index."""
    children: tuple[PlanNode, ...] = ()
    loops: Optional[float] = None
    """How many times the node ran (ANALYZE). `rows` and `actual_rows` are per loop, as the
    databases print them; `actual_time_ms` is the node's time over all loops."""

    def walk(self) -> typing.Iterator[PlanNode]:
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


@dataclass(frozen=True)
class PlanWarning:
    """Something in a plan a reader should look at."""

    kind: str
    """`seq-scan`, `temp-btree`, `filesort`, `nested-loop`, `row-mismatch`, ..."""
    message: str
    table: Optional[str] = None
    columns: tuple[str, ...] = ()
    rows: Optional[float] = None


@dataclass(frozen=True)
class Plan:
    fingerprint: str
    dialect: str
    analyzed: bool
    root: Optional[PlanNode]
    warnings: tuple[PlanWarning, ...] = ()
    statement: Optional[int] = None
    """Index into `Report.statements` of the execution that was explained."""
    sql: str = ""
    note: Optional[str] = None
    """Why there is no plan, or what to know about it (e.g. DML explained without ANALYZE)."""
    raw: JSONValue = None
    """The database's own output (JSON plans as parsed, text plans as lines)."""


@dataclass(frozen=True)
class Rewrite:
    original: str
    rewritten: str
    explanation: str = ""
    path: Optional[str] = None
    """The module file the rewrite changes; None for the profiled cell."""

    def diff(self) -> str:
        """Unified diff from the original cell (or file) to the rewritten one."""
        return "".join(
            difflib.unified_diff(
                self.original.splitlines(keepends=True),
                self.rewritten.splitlines(keepends=True),
                fromfile=self.path or "cell",
                tofile=f"{self.path} (rewritten)" if self.path else "rewritten",
            )
        )


class DeferredRewrite:
    """A `Finding`'s rewrite, built the first time it is read.

    Rules hand one to `Finding(rewrite=...)`: building a rewrite renders the whole new
    source, so it is done only for the findings that are shown, applied or saved, once.
    `Finding.rewrite` reads back the `Rewrite` (or None); this class never reaches users.
    """

    __slots__ = ("_build", "_value")

    def __init__(self, build: Callable[[], Optional[Rewrite]]) -> None:
        self._build: Optional[Callable[[], Optional[Rewrite]]] = build
        self._value: Optional[Rewrite] = None

    def get(self) -> Optional[Rewrite]:
        build = self._build
        if build is not None:
            try:
                self._value = build()
            except Exception:  # a rewrite that cannot be built leaves the finding without one
                self._value = None
            self._build = None  # lets go of the parsed source
        return self._value

    def then(self, change: Callable[[Rewrite], Rewrite]) -> DeferredRewrite:
        """This rewrite with `change` applied once it is built (still deferred)."""
        return DeferredRewrite(lambda: None if (built := self.get()) is None else change(built))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_built, (self.get(),))


def _built(rewrite: Optional[Rewrite]) -> DeferredRewrite:
    done = DeferredRewrite(lambda: rewrite)
    done.get()
    return done


class _RewriteField:
    """`Finding.rewrite`: stored as given; a `DeferredRewrite` is built on first read."""

    def __get__(self, finding: Optional[Finding], owner: Any = None) -> Optional[Rewrite]:
        if finding is None:
            return None  # the field's default
        value = finding.__dict__["rewrite"]
        return value.get() if isinstance(value, DeferredRewrite) else value

    def __set__(self, finding: Finding, value: Union[Rewrite, DeferredRewrite, None]) -> None:
        finding.__dict__["rewrite"] = value


def pending_rewrite(finding: Finding) -> Optional[DeferredRewrite]:
    """The finding's rewrite if it is not built yet (for steps that must not build it)."""
    value = finding.__dict__.get("rewrite")
    return value if isinstance(value, DeferredRewrite) and value._build is not None else None


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    title: str
    message: str
    lines: tuple[int, ...] = ()
    statements: tuple[int, ...] = ()
    rewrite: Optional[Rewrite] = _RewriteField()  # type: ignore[assignment]
    """A `Rewrite` or None (rules may pass a `DeferredRewrite`, built when first read)."""
    fix: Optional[str] = None
    """Code to change outside the cell (a model, an index), when the fix is not a rewrite."""
    sites: tuple[Site, ...] = ()
    """Where in the user's code, cell or module, most specific first."""
    seconds: Optional[float] = None
    """Time of the statements and work the finding is about (the figure its message gives)."""
    share: Optional[float] = None
    """`seconds` as a share of the profiled code's wall time."""


@dataclass(frozen=True)
class CapturedWarning:
    """A warning (typically a SAWarning) raised while profiling."""

    category: str
    message: str
    line: Optional[int] = None
    filename: str = ""


@dataclass(frozen=True)
class CellError:
    """The exception the profiled code raised (it is re-raised to the caller all the same)."""

    type: str
    message: str
    line: Optional[int] = None


@dataclass(frozen=True)
class Report:
    wall_s: float
    cpu_s: float
    statements: tuple[Statement, ...] = ()
    layers: Mapping[str, float] = field(default_factory=dict)
    call_tree: Optional[CallNode] = None
    memory: Optional[Memory] = None
    plans: tuple[Plan, ...] = ()
    findings: tuple[Finding, ...] = ()
    source: str = ""
    """The profiled cell's source (empty for `profile()` outside IPython)."""
    filename: str = ""
    """File of the profiled code (the cell's pseudo-file in IPython)."""
    started_at: str = ""
    objects_loaded: Mapping[str, int] = field(default_factory=dict)
    """ORM objects loaded from rows, per mapped class."""
    warnings: tuple[CapturedWarning, ...] = ()
    error: Optional[CellError] = None
    notes: tuple[str, ...] = ()
    """What the profiler could not do, or had to leave out, in words."""
    dropped_statements: int = 0
    """Statements executed beyond the capture cap and not kept."""
    versions: Mapping[str, str] = field(default_factory=dict)
    relationship_reads: Optional[Mapping[str, bool]] = None
    """Each relationship (`Class.key`) of the mapped classes: whether the profiled code read
    it through its attribute (`obj.key`); None where reads were not watched."""

    # -- derived views -------------------------------------------------------------

    @property
    def rows(self) -> int:
        """Rows fetched by all statements (rowcount where fetch counts are unknown)."""
        return sum(statement_rows(s) for s in self.statements)

    @property
    def objects(self) -> int:
        return sum(self.objects_loaded.values())

    def statements_frame(self) -> Any:
        """One row per statement, as a `pandas.DataFrame` (needs pandas)."""
        return VIEWS.statements_frame(self)

    def groups_frame(self) -> Any:
        """One row per fingerprint: count, total_s, mean_s, rows; slowest first (needs pandas)."""
        return VIEWS.groups_frame(self)

    def compare(self, other: Report, names: tuple[str, str] = ("before", "after")) -> Comparison:
        """How `other` differs from this report (this one is "before", `other` "after")."""
        return Comparison.between(self, other, names)

    def findings_frame(self) -> Any:
        """One row per finding, as a `pandas.DataFrame`."""
        return VIEWS.findings_frame(self)

    def pstats(self) -> pstats_module.Stats:
        """The call tree as a `pstats.Stats`: `.print_stats()`, or `.dump_stats(path)` for
        snakeviz and other cProfile viewers.

        Made from `call_tree`: per function, the calls, own and cumulative time of its
        nodes added up, and per caller those of the calls from it.  The tree's pruned
        branches are in their parent's own time, as they are in the tree.
        """
        import pstats

        if self.call_tree is None:
            raise ValueError("this report has no call tree (profiled without one, or under another profiler)")
        return pstats.Stats(typing.cast(Any, _TreeStats(self.call_tree)))  # a profiler's interface

    # -- serialisation ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        plain = typing.cast(dict[str, Any], _to_plain(self))
        return {**plain, "format": FORMAT_VERSION}

    def to_json(self, indent: Optional[int] = None) -> str:
        """`json.dumps(self.to_dict())`, written without building `to_dict`'s copy first."""
        fields = _DataclassEncoder.of(type(self)).fields(self)
        fields["format"] = FORMAT_VERSION
        try:
            return _encode(fields, indent)
        except TypeError:  # a key JSON does not take as it is (`to_dict` makes keys strings)
            return json.dumps(self.to_dict(), indent=indent, allow_nan=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """The report `to_dict` wrote, by this version or an older one.

        Fields an older format did not have take their defaults; a newer format is
        refused rather than read wrongly.
        """
        version = data.get("format", 0) if isinstance(data, Mapping) else 0
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(
                f"report format {version!r} is newer than this sqla_magic reads ({FORMAT_VERSION}): "
                "upgrade sqla_magic to open it"
            )
        return typing.cast(Report, _from_plain(cls, data))

    @classmethod
    def from_json(cls, text: Union[str, bytes]) -> Report:
        """The report `to_json` wrote; anything else raises one `ValueError` saying why.

        The cycle collector is paused while it reads: the millions of objects a large report
        makes would each trigger a generation's collection over everything made so far."""
        try:
            with collector_paused():
                data = json.loads(text)
                if not isinstance(data, Mapping):
                    raise TypeError(f"the top level is a JSON {type(data).__name__}, not an object")
                report = cls.from_dict(data)
            if not all(isinstance(getattr(report, name), (int, float)) for name in ("wall_s", "cpu_s")):
                raise TypeError("wall_s and cpu_s must be numbers")
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as problem:
            raise ValueError(f"not a sqla_magic report: {type(problem).__name__}: {problem}") from None
        return report

    # -- display ---------------------------------------------------------------------
    # The renderers live in `sqla_magic.render`; the package's facade puts them in `VIEWS`.

    def to_text(self) -> str:
        return VIEWS.text(self)

    def to_html(self) -> str:
        """A standalone HTML page (no network needed to view it)."""
        return VIEWS.page(self)

    def save(self, path: Any, redact: bool = False) -> None:
        """Write the report: `.html` as a standalone page, `.json` as `to_json()`.

        `redact` replaces parameter values with `?` in what is written.
        """
        VIEWS.save(self, path, redact)

    def __repr__(self) -> str:
        return VIEWS.text(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(VIEWS.text(self))

    def _repr_html_(self) -> str:
        return VIEWS.fragment(self)


# -- comparing two runs -------------------------------------------------------------------

NOISE_RATIO = 1.5
"""Two times (or peaks) within a factor of 1.5 of each other are "no clear change".
A comparison sets one run against one run.  Ten profiled runs of the same N+1 workload in
one process spread by about ±20% on a quiet machine and by up to 2× in wall time, and more
in small layers, on a loaded two-core machine; 1.5× hides the first with margin and
still shows the 5-10× a fixed N+1 gives.  On a busy machine, compare repeated runs."""
TIME_NOISE_S = 0.005
"""Differences under 5 ms are noise whatever the ratio (timer, scheduler, GC pauses)."""
MEMORY_NOISE_BYTES = 1 << 20
"""Peak memory is measured in pages and allocator arenas: a MiB either way is noise."""

VERDICTS = ("better", "worse", "same", "no clear change", "not measured")
"""`Change.verdict` values; lower is better for every measure."""


@dataclass(frozen=True)
class Change:
    """One measure of two runs: statements, rows, a layer's seconds, peak memory..."""

    name: str
    unit: str
    """`count`, `seconds` or `bytes`."""
    before: Optional[float]
    after: Optional[float]
    verdict: str
    """One of `VERDICTS`; times and memory within noise are `no clear change`."""

    @property
    def delta(self) -> Optional[float]:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def ratio(self) -> Optional[float]:
        """`after / before` (None when either is missing or before is zero)."""
        if self.before is None or self.after is None or not self.before:
            return None
        return self.after / self.before


@dataclass(frozen=True)
class ShapeChange:
    """A statement shape (fingerprint) that ran a different number of times."""

    fingerprint: str
    sql: str
    before: int
    after: int
    status: str
    """`added` (only after), `removed` (only before) or `changed` (in both, count differs)."""
    origin: str = ""


@dataclass(frozen=True)
class Comparison:
    """What changed from one run to another, as plain data (see `Report.compare`)."""

    names: tuple[str, str]
    counts: tuple[Change, ...]
    """`statements`, `parameter sets`, `rows`, `ORM objects`."""
    times: tuple[Change, ...]
    """`wall time`, `CPU time`."""
    layers: tuple[Change, ...]
    """Seconds per layer, named as in `Report.layers`."""
    memory: Change
    """Peak memory (`not measured` unless both runs traced it)."""
    shapes: tuple[ShapeChange, ...]
    """Shapes added, removed or run a different number of times; most changed first."""
    unchanged_shapes: int
    fixed: tuple[Finding, ...]
    """Findings of the first run that the second no longer has."""
    new: tuple[Finding, ...]
    kept: tuple[Finding, ...]
    """Findings both runs have (as the second run reported them)."""

    @classmethod
    def between(
        cls, before: Report, after: Report, names: tuple[str, str] = ("before", "after")
    ) -> Comparison:
        counts = (
            _count_change("statements", len(before.statements), len(after.statements)),
            _count_change(
                "parameter sets",
                sum(s.param_sets for s in before.statements),
                sum(s.param_sets for s in after.statements),
            ),
            _count_change("rows", before.rows, after.rows),
            _count_change("ORM objects", before.objects, after.objects),
        )
        times = (
            _measured_change("wall time", "seconds", before.wall_s, after.wall_s),
            _measured_change("CPU time", "seconds", before.cpu_s, after.cpu_s),
        )
        # Layers neither run spent time in (often mapper configuration) are left out.
        spent = {name for report in (before, after) for name, seconds in report.layers.items() if seconds}
        names_of_layers = [name for name in LAYERS if name in spent] + sorted(spent - set(LAYERS))
        layers = tuple(
            _measured_change(name, "seconds", before.layers.get(name, 0.0), after.layers.get(name, 0.0))
            for name in names_of_layers
        )
        # A resident peak and a traced one measure different things: not compared.
        peaks = (before.memory, after.memory)
        comparable = peaks[0] is not None and peaks[1] is not None and peaks[0].method == peaks[1].method
        memory = _measured_change(
            "peak memory",
            "bytes",
            peaks[0].peak_bytes if comparable and peaks[0] is not None else None,
            peaks[1].peak_bytes if comparable and peaks[1] is not None else None,
        )
        shapes, unchanged = _shape_changes(before, after)
        fixed, new, kept = _finding_changes(before, after)
        return cls(
            names=names,
            counts=counts,
            times=times,
            layers=layers,
            memory=memory,
            shapes=shapes,
            unchanged_shapes=unchanged,
            fixed=fixed,
            new=new,
            kept=kept,
        )

    def changes(self) -> tuple[Change, ...]:
        """Every measure, counts first, then times, layers and peak memory."""
        return (*self.counts, *self.times, *self.layers, self.memory)

    def measure(self, name: str) -> Change:
        """The measure called `name` (`statements`, `wall time`, `database`, `peak memory`...)."""
        for change in self.changes():
            if change.name == name:
                return change
        raise KeyError(name)

    # Rendered by `sqla_magic.render.compare`, through `VIEWS` as the report is.

    def to_text(self) -> str:
        return VIEWS.comparison_text(self)

    def to_html(self) -> str:
        """A standalone HTML page (no network needed to view it)."""
        return VIEWS.comparison_page(self)

    def __repr__(self) -> str:
        return VIEWS.comparison_text(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(VIEWS.comparison_text(self))

    def _repr_html_(self) -> str:
        return VIEWS.comparison_fragment(self)


def _count_change(name: str, before: int, after: int) -> Change:
    verdict = "same" if after == before else "better" if after < before else "worse"
    return Change(name, "count", float(before), float(after), verdict)


def _measured_change(name: str, unit: str, before: Optional[float], after: Optional[float]) -> Change:
    if before is None or after is None:
        return Change(name, unit, before, after, "not measured")
    absolute = TIME_NOISE_S if unit == "seconds" else MEMORY_NOISE_BYTES
    difference = after - before
    low, high = sorted((abs(before), abs(after)))
    if abs(difference) <= absolute or high < low * NOISE_RATIO:
        verdict = "no clear change"
    else:
        verdict = "better" if difference < 0 else "worse"
    return Change(name, unit, float(before), float(after), verdict)


def _shape_changes(before: Report, after: Report) -> tuple[tuple[ShapeChange, ...], int]:
    def shapes(report: Report) -> dict[str, list[Statement]]:
        grouped: dict[str, list[Statement]] = {}
        for statement in report.statements:
            grouped.setdefault(statement.fingerprint, []).append(statement)
        return grouped

    old, new = shapes(before), shapes(after)
    changes = []
    unchanged = 0
    for fingerprint in [*old, *(f for f in new if f not in old)]:
        first = (old.get(fingerprint) or new[fingerprint])[0]
        count_before, count_after = len(old.get(fingerprint, ())), len(new.get(fingerprint, ()))
        if count_before == count_after:
            unchanged += 1
            continue
        status = "added" if not count_before else "removed" if not count_after else "changed"
        changes.append(ShapeChange(fingerprint, first.sql, count_before, count_after, status, first.origin))
    changes.sort(key=lambda change: -abs(change.after - change.before))
    return tuple(changes), unchanged


def _finding_changes(
    before: Report, after: Report
) -> tuple[tuple[Finding, ...], tuple[Finding, ...], tuple[Finding, ...]]:
    """Findings matched by rule and the statement shapes they are about (lines move when a
    cell is edited; shapes do not)."""

    def key(report: Report, finding: Finding) -> tuple[str, frozenset[str]]:
        shapes = frozenset(
            report.statements[i].fingerprint for i in finding.statements if 0 <= i < len(report.statements)
        )
        return finding.rule, shapes

    waiting: dict[tuple[str, frozenset[str]], list[Finding]] = {}
    for finding in before.findings:
        waiting.setdefault(key(before, finding), []).append(finding)
    new, kept = [], []
    for finding in after.findings:
        matches = waiting.get(key(after, finding))
        if matches:
            matches.pop(0)
            kept.append(finding)
        else:
            new.append(finding)
    unmatched = {id(finding) for findings in waiting.values() for finding in findings}
    fixed = [finding for finding in before.findings if id(finding) in unmatched]
    return tuple(fixed), tuple(new), tuple(kept)


def _not_set(*args: Any) -> Any:
    raise RuntimeError("no renderer set: import sqla_magic (its facade sets sqla_magic.model.VIEWS)")


@dataclass
class Views:
    """How a Report becomes text, HTML, a file or a frame.

    Filled in by `sqla_magic/__init__.py` with the functions of `sqla_magic.render`, so
    that the model, which everything imports, imports nothing of the package itself.
    """

    text: Callable[[Report], str] = _not_set
    fragment: Callable[[Report], str] = _not_set
    page: Callable[[Report], str] = _not_set
    save: Callable[[Report, Any, bool], None] = _not_set
    statements_frame: Callable[[Report], Any] = _not_set
    groups_frame: Callable[[Report], Any] = _not_set
    findings_frame: Callable[[Report], Any] = _not_set
    comparison_text: Callable[[Comparison], str] = _not_set
    comparison_fragment: Callable[[Comparison], str] = _not_set
    comparison_page: Callable[[Comparison], str] = _not_set


VIEWS = Views()


StatsKey = tuple[str, int, str]
"""A function as `pstats` names it: (file, line, name); C functions are `("~", 0, name)`."""


class _TreeStats:
    """What `pstats.Stats` loads from (a profiler's `create_stats` and `stats`), made from a call tree."""

    def __init__(self, root: CallNode) -> None:
        self.root = root
        self.stats: dict[StatsKey, tuple[int, int, float, float, dict[StatsKey, Any]]] = {}

    def create_stats(self) -> None:
        totals: dict[StatsKey, list[Any]] = {}
        callers: dict[StatsKey, dict[StatsKey, list[Any]]] = {}
        pending: list[tuple[CallNode, Optional[StatsKey]]] = [(self.root, None)]
        while pending:
            node, parent = pending.pop()
            key = ("~", 0, node.name) if node.kind == "builtin" else (node.file, node.line, node.name)
            entry = totals.get(key)
            if entry is None:
                entry = totals[key] = [0, 0.0, 0.0]
            entry[0] += node.calls
            entry[1] += node.self_s
            entry[2] += node.total_s
            if parent is not None:
                edge = callers.setdefault(key, {}).setdefault(parent, [0, 0.0, 0.0])
                edge[0] += node.calls
                edge[1] += node.self_s
                edge[2] += node.total_s
            pending.extend((child, key) for child in node.children)
        self.stats = {
            key: (
                calls,
                calls,
                own,
                cumulative,
                {caller: (n, n, t, c) for caller, (n, t, c) in callers.get(key, {}).items()},
            )
            for key, (calls, own, cumulative) in totals.items()
        }


def statement_rows(statement: Statement) -> int:
    """Rows a statement fetched, or its rowcount where fetch counts are unknown."""
    if statement.rows is not None:
        return statement.rows
    return max(statement.rowcount, 0)


# -- generic (de)serialisation of the dataclasses above ---------------------------------
# Each dataclass's fields are sorted once into those JSON takes as they are and those to
# convert: a report has one statement per execution (100k in a long run) and a call tree
# of a thousand nodes, and asking `dataclasses` and `typing` about every value cost ten
# times the rest.


def _to_plain(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is tuple or kind is list:
        return [v if type(v) in _SCALARS else _to_plain(v) for v in value]
    if kind is dict:
        return {
            k if type(k) is str else str(k): v if type(v) in _SCALARS else _to_plain(v)
            for k, v in value.items()
        }
    encoder = _ENCODERS.get(kind)
    if encoder is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        encoder = _ENCODERS[kind] = _DataclassEncoder(kind)
    if encoder is not None:
        return encoder(value)
    if isinstance(value, Mapping):
        return {
            k if type(k) is str else str(k): v if type(v) in _SCALARS else _to_plain(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _SCALARS else _to_plain(v) for v in value]
    return value


_SCALARS = frozenset((str, int, float, bool, type(None)))


class _DataclassEncoder:
    """A dataclass instance as a dict of its fields (read as attributes: a field may be a
    descriptor); fields declared as plain scalars are copied as they are, the others go
    through `_to_plain` (tuples become lists, mapping keys strings)."""

    @staticmethod
    def of(kind: type) -> _DataclassEncoder:
        encoder = _ENCODERS.get(kind)
        if encoder is None:
            encoder = _ENCODERS[kind] = _DataclassEncoder(kind)
        return encoder

    def __init__(self, kind: type) -> None:
        hints = typing.get_type_hints(kind)
        self.names = tuple(f.name for f in dataclasses.fields(kind))
        # attrgetter of several names gives a tuple; of one, the bare value.
        names = self.names
        self.read: typing.Callable[[Any], Any] = (
            operator.attrgetter(*names) if len(names) > 1 else lambda v: tuple(getattr(v, n) for n in names)
        )
        self.converted = tuple(name for name in self.names if not _declared_scalar(hints[name]))

    def fields(self, value: Any) -> dict[str, Any]:
        """Its fields as they are (not converted)."""
        return dict(zip(self.names, self.read(value), strict=True))

    def __call__(self, value: Any) -> dict[str, Any]:
        plain = dict(zip(self.names, self.read(value), strict=True))
        for name in self.converted:
            field_value = plain[name]
            if type(field_value) not in _SCALARS:
                plain[name] = _to_plain(field_value)
        return plain


def _declared_scalar(kind: Any) -> bool:
    if typing.get_origin(kind) in (Union, types.UnionType):
        return all(_declared_scalar(a) for a in typing.get_args(kind))
    return kind in _SCALARS


_ENCODERS: dict[type, _DataclassEncoder] = {}


def _json_encoder(indent: Optional[int]) -> json.JSONEncoder:
    return json.JSONEncoder(indent=indent, allow_nan=True, check_circular=False, default=_json_default)


class _EncodedStrings(dict[str, str]):
    """Each string as JSON writes it, escaped once: a report repeats its keys in every
    statement and its SQL, engine and origin strings across the statements."""

    def __missing__(self, text: str) -> str:
        encoded = self[text] = _encode_string(text)
        return encoded


_encode_string: Callable[[str], str] = json.encoder.encode_basestring_ascii
_make_encoder: Optional[Callable[..., Any]] = getattr(json.encoder, "c_make_encoder", None)


def _encode(value: Any, indent: Optional[int]) -> str:
    """`json.JSONEncoder(...).encode(value)` as `_json_encoder` makes it, each string escaped
    once per call (`_EncodedStrings`) where the C encoder is there to take its escaper."""
    if indent is not None or _make_encoder is None:
        return _json_encoder(indent).encode(value)
    encoder = _make_encoder(
        None,  # no circular check
        _json_default,
        _EncodedStrings().__getitem__,
        None,
        ": ",
        ", ",
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
    return "".join(encoder(value, 0))


def _json_default(value: Any) -> Any:
    """What `to_json` writes for a value JSON has no type for: a dataclass as the mapping of
    its fields (tuples and dicts inside are JSON's own); the encoder writes the result."""
    kind = type(value)
    count = _OWN_FIELDS.get(kind)
    if count is None:
        count = _OWN_FIELDS[kind] = _own_fields(kind)
    if count:
        fields = value.__dict__
        if len(fields) == count:
            return fields  # written as it is, not copied: a report has a statement per execution
    if kind is DeferredRewrite:
        return value.get()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _DataclassEncoder.of(kind).fields(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError(f"Object of type {kind.__name__} is not JSON serializable")


_OWN_FIELDS: dict[type, int] = {}
"""Per type met by `_json_default`: how many fields it has, if its `__dict__` holds exactly
them as attribute reads give them (a plain dataclass), else 0."""


def _own_fields(kind: type) -> int:
    if not dataclasses.is_dataclass(kind) or kind.__getattribute__ is not object.__getattribute__:
        return 0
    names = [f.name for f in dataclasses.fields(kind)]
    if hasattr(kind, "__slots__") or any(hasattr(getattr(kind, n, None), "__get__") for n in names):
        return 0  # a field behind a descriptor (`Finding.rewrite`) is read as an attribute
    return len(names)


def _from_plain(kind: Any, data: Any) -> Any:
    return _decoder(kind)(data)


_Decoder = typing.Callable[[Any], Any]
"""Turns JSON data into a value of one declared type; every decoder gives None for None."""
_DECODERS: dict[Any, _Decoder] = {}


def _decoder(kind: Any) -> _Decoder:
    """The decoder of the declared type `kind`, made once per type."""
    found = _DECODERS.get(kind)
    if found is None:
        found = _DECODERS[kind] = _make_decoder(kind)
    return found


def _make_decoder(kind: Any) -> _Decoder:
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return _decoder(options[0]) if len(options) == 1 else _as_is
    if origin is tuple:
        return _TupleDecoder(typing.get_args(kind)[0])
    if origin in (Mapping, dict):
        return _MappingDecoder(typing.get_args(kind)[1])
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _DataclassDecoder(kind)
    if kind is Any:
        return _thaw
    if kind is float:
        return _to_float
    return _as_is


def _as_is(data: Any) -> Any:
    return data


def _to_float(data: Any) -> Any:
    return float(data) if type(data) is int else data


class _TupleDecoder:
    """A tuple of one declared type; the item's decoder is looked up on first use (a
    dataclass may hold its own kind, `CallNode.children`, whose decoder is still being made)."""

    __slots__ = ("item", "kind")

    def __init__(self, kind: Any) -> None:
        self.kind = kind
        self.item: Optional[_Decoder] = None

    def __call__(self, data: Any) -> Any:
        if data is None:
            return None
        item = self.item
        if item is None:
            item = self.item = _decoder(self.kind)
        return tuple(data) if item is _as_is else tuple(map(item, data))


class _MappingDecoder(_TupleDecoder):
    """A mapping with values of one declared type."""

    __slots__ = ()

    def __call__(self, data: Any) -> Any:
        if data is None:
            return None
        item = self.item
        if item is None:
            item = self.item = _decoder(self.kind)
        return dict(data.items()) if item is _as_is else {k: item(v) for k, v in data.items()}


class _DataclassDecoder:
    """A dataclass from the dict `_to_plain` made of it; unknown keys are ignored.

    With exactly its fields given it is built without the frozen `__init__` (which sets
    each field through `object.__setattr__`); otherwise through it, for its defaults and
    its error about a missing field."""

    def __init__(self, kind: type) -> None:
        self.kind = kind
        self.names = frozenset(f.name for f in dataclasses.fields(kind))
        self.direct = not hasattr(kind, "__post_init__")
        self.converters: Optional[tuple[tuple[str, _Decoder], ...]] = None
        self.floats: tuple[str, ...] = ()

    def _converters(self) -> tuple[tuple[str, _Decoder], ...]:
        hints = typing.get_type_hints(self.kind)
        found = []
        floats = []
        for f in dataclasses.fields(self.kind):
            decode = _decoder(hints[f.name])
            if decode is _to_float:
                floats.append(f.name)  # converted in line: a statement has three
            elif decode is not _as_is:
                found.append((f.name, decode))
        self.floats = tuple(floats)
        self.converters = tuple(found)
        return self.converters

    def __call__(self, data: Any) -> Any:
        if data is None:
            return None
        converters = self.converters if self.converters is not None else self._converters()
        made: Any
        if self.direct and data.keys() == self.names:
            made = object.__new__(self.kind)
            values = made.__dict__
            values.update(data)
            if not converters and not self.floats:
                return made  # a `Site`: a statement has one or more
        else:
            made = None
            values = {k: v for k, v in data.items() if k in self.names}
        for name in self.floats:
            if type(values.get(name)) is int:
                values[name] = float(values[name])
        for name, convert in converters:
            value = values.get(name)
            if value is not None:
                values[name] = convert(value)
        return made if made is not None else self.kind(**values)


def _thaw(value: Any) -> Any:
    """JSON lists back to the tuples the capture stores for free-form values (copies)."""
    kind = type(value)
    if kind is list:
        for item in value:  # a loop, not a generator: most are a few plain values
            if type(item) is list or type(item) is dict:
                return tuple([_thaw(v) for v in value])
        return tuple(value)
    if kind is dict:
        for item in value.values():
            if type(item) is list or type(item) is dict:
                return {k: _thaw(v) for k, v in value.items()}
        return dict(value)
    if isinstance(value, list):
        return tuple(v if type(v) in _SCALARS else _thaw(v) for v in value)
    if isinstance(value, dict):
        return {k: v if type(v) in _SCALARS else _thaw(v) for k, v in value.items()}
    return value
