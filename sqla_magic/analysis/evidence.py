"""Small readings of a `Report` that several rules share: groups, tables, wording.

`index(report)` reads the statements once for every rule (by verb, fingerprint, origin,
line, request and place in the user's code), and what a rule reads from a SQL string is
kept per string: a workload runs a few compiled strings many times.

Requests are units: when the profiled code drives a test client, what a rule counts as
repeated is counted within one request (`repeated_per_request`), so that work an app does
once per request (reading the signed-in user, a counter) is not taken for a repetition.
"""

from __future__ import annotations

import functools
import operator
import weakref
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, compress, repeat
from typing import Any, Optional, TypeVar, cast

from sqla_magic import sqltext
from sqla_magic.model import Finding, Report, Site, Statement, field_column, is_one_object, run_starts

_T = TypeVar("_T")
_U = TypeVar("_U")

SQL_STRINGS_KEPT = 8192
"""Distinct SQL strings whose readings are kept (per process, least recently used out)."""

sql_verb = functools.lru_cache(maxsize=SQL_STRINGS_KEPT)(sqltext.verb)
dml_table_of = functools.lru_cache(maxsize=SQL_STRINGS_KEPT)(sqltext.dml_table)


def verb(statement: Statement) -> str:
    """First SQL keyword, upper case (`SELECT`, `INSERT`, ...)."""
    return sql_verb(statement.sql)


def dml_table(statement: Statement) -> Optional[str]:
    """Table an INSERT/UPDATE/DELETE writes to, unquoted."""
    return dml_table_of(statement.sql)


Place = tuple[str, int]
"""(file, line) of the innermost frame of the user's code a statement ran under."""

CELL_FUNCTION = "<module>"
"""The function name of a frame of the profiled cell (or file) itself."""


def grouped(
    keys: Sequence[Any], positions: Optional[Iterable[int]] = None, distinct: Optional[dict[Any, None]] = None
) -> dict[Any, list[int]]:
    """`positions` (by default 0, 1, ...), each beside its key in `keys`, grouped by key in
    order of first key (`distinct`: `dict.fromkeys(keys)`, if made already): one C-level
    pass of a dict look-up and a list append each, and none where all keys are one."""
    chosen = range(len(keys)) if positions is None else positions
    if distinct is None:
        # one key for all (`count` compares by identity first, as a dict does): no dict to fill
        distinct = {keys[0]: None} if keys and keys.count(keys[0]) == len(keys) else dict.fromkeys(keys)
    if len(distinct) <= 1:
        if positions is None:  # every position: the ints `_is_every_position` compares by identity
            chosen = _every_position(len(keys))
        return {key: list(chosen) for key in distinct}
    groups: dict[Any, list[int]] = {key: [] for key in distinct}
    deque(map(list.append, map(groups.__getitem__, keys), chosen), maxlen=0)
    return groups


def merged(groups: Iterable[Sequence[int]]) -> list[int]:
    """The positions of several groups together, in order."""
    chosen = [group for group in groups if group]
    return list(chosen[0]) if len(chosen) == 1 else sorted(chain.from_iterable(chosen))


def picked(values: Sequence[_T], positions: Iterable[int]) -> Sequence[_T]:
    """`values` at `positions`, read in C (a tuple's `__getitem__` called per position
    costs ten times more)."""
    chosen = positions if isinstance(positions, (list, tuple, range)) else tuple(positions)
    if len(chosen) > 1:
        if len(chosen) == len(values) and _is_every_position(chosen):
            return values
        found: tuple[_T, ...] = operator.itemgetter(*chosen)(values)
        return found
    return [values[i] for i in chosen]


def per_object(values: Sequence[_T], derive: Callable[[_T], _U]) -> tuple[_U, ...]:
    """`derive` of each of `values`, by position, called once per distinct object (a
    report's statements share a few sites, stacks and frames, most often in long runs:
    one for a loop's statements)."""
    size = len(values)
    if not size:
        return ()
    if is_one_object(values):
        return (derive(values[0]),) * size
    runs = object_runs(values)
    derived: dict[int, _U] = {}
    if runs is not None:  # derived once per object, repeated per run
        found: list[_U] = []
        for start, end in runs:
            value = values[start]
            if id(value) not in derived:
                derived[id(value)] = derive(value)
            found.extend(repeat(derived[id(value)], end - start))
        return tuple(found)
    idents = tuple(map(id, values))
    derived = {ident: derive(value) for ident, value in dict(zip(idents, values, strict=True)).items()}
    return tuple(map(derived.__getitem__, idents))


def object_runs(values: Sequence[Any]) -> Optional[list[tuple[int, int]]]:
    """(start, end) of each run of one object in `values`, in order, found in C; None where
    there are `RUN_SHARE` values a run or fewer."""
    starts = run_starts(values)
    if len(starts) * RUN_SHARE >= len(values):
        return None
    return list(zip(starts, (*starts[1:], len(values)), strict=True))


def object_counts(values: Sequence[_T]) -> dict[int, tuple[_T, int]]:
    """Each distinct object of `values` (by identity, in the order first met) with how
    many of `values` it is, by its `id`: a report's statements share a few objects."""
    runs = object_runs(values) if values else []
    if runs is None:
        idents = list(map(id, values))
        objects = dict(zip(idents, values, strict=True))
        return {ident: (objects[ident], count) for ident, count in Counter(idents).items()}
    found: dict[int, tuple[_T, int]] = {}
    for start, end in runs:
        value = values[start]
        counted = found.get(id(value))
        found[id(value)] = (value, end - start + (counted[1] if counted is not None else 0))
    return found


RUN_SHARE = 8
"""Runs of one object are read one by one where a run holds more than this many values
on average; with shorter runs, a look-up per value costs less than a loop per run."""


def _place_of(site: Optional[Site]) -> Optional[Place]:
    return (site.file, site.line) if site is not None else None


def _innermost(stack: tuple[Site, ...]) -> Optional[Site]:
    return stack[0] if stack else None


def _is_every_position(positions: Sequence[int]) -> bool:
    """Whether `positions` is 0, 1, ... in order (a finding about every statement)."""
    if isinstance(positions, range):
        return positions.start == 0 and positions.step == 1
    if positions[0] != 0 or positions[-1] != len(positions) - 1:
        return False
    every = _every_position(len(positions))
    return (tuple(positions) if isinstance(positions, list) else positions) == every


@functools.lru_cache(maxsize=4)
def _every_position(size: int) -> tuple[int, ...]:
    """0, 1, ... `size` - 1, made once: a group of every statement holds these very ints,
    which compare by identity."""
    return tuple(range(size))


class StatementIndex:
    """A report's statements read by column, and grouped by verb, fingerprint, origin,
    line, request and place, once for every rule (`index(report)`).

    Whole-report readings go through `column(name)` (one `Statement` field of every
    statement), so that rules read a `Statement` only for the few a finding is about.
    What comes from a SQL string is read once per distinct string, and each grouping
    is made when a rule first asks for it.
    """

    def __init__(self, statements: Sequence[Statement], filename: str = "") -> None:
        self._statements = statements
        self.filename = filename
        self.size = len(statements)
        self._columns: dict[str, tuple[Any, ...]] = {}
        self._groups: dict[str, dict[Any, list[int]]] = {}
        self._param_reprs: list[Optional[str]] = [None] * self.size
        self._every_param_repr = False
        self._sole: dict[str, tuple[Any, ...]] = {}
        self._seconds: dict[tuple[int, ...], float] = {}

    def column(self, name: str) -> tuple[Any, ...]:
        """The field `name` of every statement, by position (read once per index)."""
        found = self._columns.get(name)
        if found is None:
            found = self._columns[name] = tuple(field_column(self._statements, name))
        return found

    def groups(self, name: str) -> dict[Any, list[int]]:
        """Positions by the value of the field `name`, in order of first value."""
        found = self._groups.get(name)
        if found is None:
            found = self._groups[name] = grouped(self.column(name))
        return found

    @functools.cached_property
    def verbs(self) -> tuple[str, ...]:
        """Each statement's verb (`sql_verb`), by position."""
        return per_object(self.column("sql"), sql_verb)

    @functools.cached_property
    def by_verb(self) -> dict[str, list[int]]:
        return grouped(self.verbs)

    @property
    def by_fingerprint(self) -> dict[str, list[int]]:
        return self.groups("fingerprint")

    @property
    def by_origin(self) -> dict[str, list[int]]:
        return self.groups("origin")

    @functools.cached_property
    def by_line(self) -> dict[int, list[int]]:
        lines = dict(self.groups("line"))
        lines.pop(None, None)
        return lines

    @property
    def requests(self) -> tuple[Optional[int], ...]:
        """Each statement's `request_index` (None outside any request), by position."""
        return self.column("request_index")

    @property
    def by_request(self) -> dict[Optional[int], list[int]]:
        """Statement indexes per request, in order; None: the statements outside any request."""
        return self.groups("request_index")

    @functools.cached_property
    def places(self) -> tuple[Optional[Place], ...]:
        """Each statement's place (`Place`, or None outside the user's code), by position:
        its `site`, else its `line` in the profiled file."""
        return self._site_places(self.filename, keep_unknown_line=False)  # type: ignore[return-value]

    @functools.cached_property
    def by_place(self) -> dict[Place, list[int]]:
        found = grouped(self.places)
        found.pop(None, None)
        return found

    @functools.cached_property
    def loop_places(self) -> tuple[tuple[str, Optional[int]], ...]:
        """Each statement's `site` as (file, line), else ("", its line): the place a
        repetition in a loop is grouped by."""
        return self._site_places("", keep_unknown_line=True)  # type: ignore[return-value]

    def _site_places(
        self, file: str, keep_unknown_line: bool
    ) -> tuple[Optional[tuple[str, Optional[int]]], ...]:
        """(file, line) of each statement's `site` (one tuple per distinct site), else
        (`file`, its line), or None without a line unless `keep_unknown_line`."""
        sited: tuple[Optional[tuple[str, Optional[int]]], ...] = per_object(self.column("site"), _place_of)
        if not self.unsited:
            return sited
        places = list(sited)
        lines = self.column("line")
        by_line: dict[Optional[int], Optional[tuple[str, Optional[int]]]] = {}
        for position in self.unsited:
            line = lines[position]
            place = by_line.get(line, by_line)
            if place is by_line:
                place = by_line[line] = (file, line) if line is not None or keep_unknown_line else None
            places[position] = place  # type: ignore[assignment]
        return tuple(places)

    @functools.cached_property
    def unsited(self) -> tuple[int, ...]:
        """Positions of the statements without a `site`."""
        # by identity: a `Site` compares in Python
        return tuple(compress(range(self.size), map(operator.is_, self.column("site"), repeat(None))))

    @functools.cached_property
    def stacks(self) -> tuple[tuple[Site, ...], ...]:
        """Each statement's frames of the user's code, innermost first, by position: its
        `stack`, else its `site`, else its `line` in the profiled file (a report saved
        without stacks), else none."""
        recorded = self.column("stack")
        if all(recorded):
            return recorded
        stacks = list(recorded)
        sites = self.column("site")
        lines = self.column("line")
        made: dict[object, tuple[Site, ...]] = {}
        for position in compress(range(self.size), map(operator.not_, recorded)):
            site, line = sites[position], lines[position]
            key: object = id(site) if site is not None else line
            frames = made.get(key)
            if frames is None:
                if site is not None:
                    frames = (site,)
                elif line is not None:
                    frames = (Site(self.filename, line, CELL_FUNCTION),)
                else:
                    frames = ()
                made[key] = frames
            stacks[position] = frames
        return tuple(stacks)

    @functools.cached_property
    def frames(self) -> tuple[Optional[Site], ...]:
        """Each statement's innermost frame of the user's code (None outside it), by position."""
        return per_object(self.stacks, _innermost)

    @functools.cached_property
    def frame_places(self) -> tuple[Optional[Place], ...]:
        """(file, line) of each statement's innermost frame (None outside the user's code)."""
        return per_object(self.frames, _place_of)

    @functools.cached_property
    def unframed(self) -> frozenset[int]:
        """Positions of the statements run outside the user's code (no frame)."""
        return frozenset(compress(range(self.size), map(operator.is_, self.frames, repeat(None))))

    @functools.cached_property
    def selects_by_sql(self) -> dict[str, list[int]]:
        """The SELECT statements' positions by SQL string, in order of first run."""
        selects = self.by_verb.get("SELECT", [])
        return grouped(picked(self.column("sql"), selects), selects)

    @functools.cached_property
    def loop_groups(self) -> list[list[int]]:
        """The SELECT statements that are not ORM loads (origin `query` or `core`) nor
        executemany, with a place (`loop_places`), grouped by request, fingerprint and
        place, in order of first run: what a loop running one query per item leaves."""
        selects = self.by_verb.get("SELECT", [])
        origins = merged([self.of_origin("query"), self.of_origin("core")])
        if len(selects) == self.size:
            chosen = origins
        elif len(origins) == self.size:
            chosen = list(selects)
        else:
            chosen = sorted(set(selects).intersection(origins))
        executemany = self.column("executemany")
        if any(executemany):
            chosen = [i for i in chosen if not executemany[i]]
        places = self.loop_places
        if self.unsited:
            chosen = [i for i in chosen if places[i][1] is not None]
        if not chosen:
            return []
        # Only the keys that differ somewhere are compared (one request, one fingerprint
        # and one place are the common case): the groups are the same.
        varying = [
            keys
            for keys, distinct in (
                (self.requests, len(self.by_request)),
                (self.column("fingerprint"), len(self.by_fingerprint)),
                (places, 1 if is_one_object(places) else len(dict.fromkeys(map(id, places)))),
            )
            if distinct > 1
        ]
        if not varying:
            return [chosen]
        if len(varying) == 1:
            return list(grouped(picked(varying[0], chosen), chosen).values())
        keys = list(zip(*(picked(column, chosen) for column in varying), strict=True))
        return list(grouped(keys, chosen).values())

    @functools.cached_property
    def database_seconds(self) -> float:
        """Time of all statements in the database (execute and fetch)."""
        total: float = sum(map(operator.add, self.column("duration_s"), self.column("fetch_s")))
        return total

    def seconds(self, positions: Iterable[int]) -> float:
        """Time of the statements at `positions` in the database (execute and fetch)."""
        chosen = tuple(positions)
        total = self._seconds.get(chosen)
        if total is None:  # a finding's message and its cost read the same statements
            durations = picked(self.column("duration_s"), chosen)
            total = self._seconds[chosen] = sum(
                map(operator.add, durations, picked(self.column("fetch_s"), chosen))
            )
        return total

    def rows(self, positions: Iterable[int]) -> int:
        """Rows fetched by the statements at `positions` (unknown counts as 0)."""
        return sum(filter(None, picked(self.column("rows"), positions)))

    def param_reprs(self, positions: Sequence[int]) -> Sequence[str]:
        """`repr(params)` of the statements at `positions` (made once per statement): what
        tells one parameter set from another."""
        known = self._param_reprs
        found = tuple(picked(known, positions))
        if self._every_param_repr:
            return cast("Sequence[str]", found)
        if len(found) == self.size and _is_every_position(positions):
            known[:] = map(repr, self.column("params"))
            self._every_param_repr = True
            return cast("Sequence[str]", tuple(known))
        missing = list(compress(positions, map(operator.is_, found, repeat(None))))
        if missing:
            texts = map(repr, picked(self.column("params"), missing))
            deque(map(known.__setitem__, missing, texts), maxlen=0)
            found = tuple(picked(known, positions))
        return cast("Sequence[str]", found)

    def sole(self, name: str) -> tuple[Any, ...]:
        """(the object,) where every statement has the same object in the derived column
        `name` (`stacks`, `frames`), else (): a reading of it for any statements is then
        a reading of that one object."""
        found = self._sole.get(name)
        if found is None:
            values: Sequence[Any] = getattr(self, name)
            found = self._sole[name] = (values[0],) if is_one_object(values) else ()
        return found

    def of_verb(self, *verbs: str) -> list[int]:
        """Indexes of the statements whose SQL starts with one of `verbs`, in order."""
        if len(verbs) == 1:
            return self.by_verb.get(verbs[0], [])
        return merged(self.by_verb.get(kind, []) for kind in verbs)

    def of_origin(self, origin: str) -> list[int]:
        return self.by_origin.get(origin, [])

    def of_place(self, place: Place) -> list[int]:
        return self.by_place.get(place, [])

    def on_lines(self, first: int, last: int, verb: Optional[str] = None) -> list[int]:
        """Indexes of the statements caused by lines `first` to `last` (with `verb` only,
        if given), in order."""
        if last - first < len(self.by_line):
            found = merged(self.by_line.get(line, []) for line in range(first, last + 1))
        else:
            found = merged(group for line, group in self.by_line.items() if first <= line <= last)
        if verb is not None:
            verbs = self.verbs
            found = [i for i in found if verbs[i] == verb]
        return found

    def per_request(self, indexes: Iterable[int]) -> dict[Optional[int], list[int]]:
        """`indexes` split by the request they ran in (None: outside any request), in order."""
        chosen = list(indexes)
        if len(self.by_request) == 1:
            return {next(iter(self.by_request)): chosen} if chosen else {}
        return grouped(picked(self.requests, chosen), chosen)


_latest: Optional[tuple[weakref.ref[Report], StatementIndex]] = None


def index(report: Report) -> StatementIndex:
    """The statement index of `report`, built once while the rules read the same report
    (or a copy of it with the same statements: the plan rules read one with plans added)."""
    global _latest
    latest = _latest
    if latest is not None:
        seen = latest[0]()
        if seen is report or (
            seen is not None and seen.statements is report.statements and seen.filename == report.filename
        ):
            return latest[1]
    built = StatementIndex(report.statements, report.filename)
    _latest = (weakref.ref(report), built)
    return built


def forget() -> None:
    """Let go of the latest index once the rules have read the report: it holds the
    statements and their parameters, which must not outlive the report (nor stay
    unmasked in memory after it is masked)."""
    global _latest
    _latest = None


def repeated_per_request(report: Report, indexes: Sequence[int], threshold: int) -> list[int]:
    """Of a group of statements that a rule counts as repeats, those of the requests (and of
    the code outside any request, a unit of its own) that ran at least `threshold` of them:
    a repetition is counted within one request, never across requests."""
    if len(indexes) < threshold:
        return []
    split = index(report).per_request(indexes)
    if len(split) == 1:
        return list(indexes)
    return sorted(i for unit in split.values() if len(unit) >= threshold for i in unit)


def requests_of(report: Report, indexes: Iterable[int]) -> list[str]:
    """The distinct requests `indexes` ran in, in order (`GET /x`, or `GET /x (2 requests)`)."""
    found = index(report)
    chosen = list(indexes)
    counts: dict[str, set[int]] = {}
    for text, unit in zip(
        picked(found.column("request"), chosen), picked(found.requests, chosen), strict=True
    ):
        if text is not None:
            counts.setdefault(text, set()).add(unit or 0)
    return [text if len(seen) == 1 else f"{text} ({len(seen)} requests)" for text, seen in counts.items()]


def request_words(report: Report, indexes: Iterable[int]) -> str:
    """ " in request GET /x" / " in 3 requests (GET /x, GET /y)", or "" outside any request."""
    chosen = list(indexes)
    found = index(report)
    requests = found.by_request
    one_unit = len(requests) == 1 and chosen
    units = (set(requests) if one_unit else set(picked(found.requests, chosen))) - {None}
    if not units:
        return ""
    texts = requests_of(report, chosen)
    if len(units) == 1:
        return f" in request `{texts[0]}`"
    shown = ", ".join(f"`{t}`" for t in texts[:3]) + (", ..." if len(texts) > 3 else "")
    return f" in {len(units)} requests ({shown})"


def writes_by_table(report: Report, verb_: str, threshold: int) -> list[tuple[str, list[int], int]]:
    """Tables that `verb_` statements (INSERT, UPDATE) wrote at least `threshold` rows to:
    the table, its statements' indexes and the rows they carried, in order of first write."""
    found = index(report)
    writes = found.of_verb(verb_)
    if not writes:
        return []
    sql = picked(found.column("sql"), writes)
    table_of = {text: dml_table_of(text) for text in dict.fromkeys(sql)}
    groups = grouped(list(map(table_of.__getitem__, sql)), writes)
    groups.pop(None, None)
    written = []
    for table, indexes in groups.items():
        rows = rows_written(report, indexes)
        if rows >= threshold:
            written.append((str(table), indexes, rows))
    return written


def rows_written(report: Report, indexes: Sequence[int]) -> int:
    """Rows the DML statements at `indexes` carried, in all.

    Each statement counts its parameter sets (an executemany's list), and an INSERT batch
    of insertmanyvalues, which hands the cursor one flat set for many rows, counts the
    rows the database says it inserted: 20,000 rows sent in 20 batches are 20,000.
    """
    found = index(report)
    sets = picked(found.column("param_sets"), indexes)
    if not any(found.column("executemany")):
        return sum(map(max, sets, repeat(1)))  # each counts its sets, at least 1
    return sum(
        map(
            _rows_written,
            sets,
            picked(found.column("executemany"), indexes),
            picked(found.column("rowcount"), indexes),
            picked(found.verbs, indexes),
        )
    )


def _rows_written(sets: int, executemany: bool, rowcount: int, verb_: str) -> int:
    if sets > 1:
        return sets
    if executemany and rowcount > 1 and verb_ == "INSERT":
        return rowcount
    return 1


def lines_of(report: Report, indexes: Iterable[int]) -> tuple[int, ...]:
    found = index(report)
    by_line = found.groups("line")
    if len(by_line) == 1:  # one line for every statement
        lines = set(by_line) if any(True for _ in indexes) else set()
    else:
        lines = set(picked(found.column("line"), indexes))
    lines.discard(None)
    return tuple(sorted(lines))


def seconds(report: Report, indexes: Iterable[int]) -> float:
    return index(report).seconds(indexes)


def database_seconds(report: Report) -> float:
    return index(report).database_seconds


def ms(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value >= 0.0095 else f"{value * 1000:.1f} ms"


def share(report: Report, indexes: Sequence[int]) -> str:
    """ "301 statements, 300 of them ..." style opening with time spent."""
    return (
        f"{len(report.statements)} statements, {len(indexes)} of them these; "
        f"{ms(seconds(report, indexes))} of {ms(database_seconds(report))} in the database"
    )


def line_words(lines: Sequence[int]) -> str:
    if not lines:
        return "code outside the profiled source"
    if len(lines) == 1:
        return f"line {lines[0]}"
    return "lines " + ", ".join(str(n) for n in lines)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def percent(share: float) -> str:
    return "<1%" if 0 < share < 0.005 else f"{share * 100:.0f}%"


def share_words(part: float, whole: float) -> str:
    """`part` as a share of `whole` in words (`12%`), for messages that state it themselves."""
    return percent(part / whole) if whole > 0 else "an unknown share"


def with_cost(report: Report, finding: Finding) -> Finding:
    """`finding` with its `seconds` and `share` of the profiled time, said in its message.

    One computation for every figure of a finding: its time is `seconds(report, indexes)`
    of its statements (what the rules' messages quote, and what the evidence line shows),
    unless the rule measured another (a mapper configuration from the call tree); a rule
    that gave the share too has said both already.
    """
    if finding.share is not None:
        return finding
    spent = finding.seconds
    if spent is None:
        if not finding.statements:
            return finding
        spent = seconds(report, finding.statements)
    share_ = spent / report.wall_s if report.wall_s > 0 else None
    said = (
        f"{ms(spent)}, {percent(min(share_, 1.0))} of the profiled time" if share_ is not None else ms(spent)
    )
    what = "These statements took" if finding.seconds is None else "This took"
    values = dict(finding.__dict__)  # the rewrite as stored: a deferred one stays deferred
    values.update(seconds=spent, share=share_, message=f"{finding.message.rstrip()} {what} {said}.")
    updated = object.__new__(Finding)
    updated.__dict__.update(values)
    return updated
