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
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Optional

from sqla_magic import sqltext
from sqla_magic.model import Finding, Report, Site, Statement

SQL_STRINGS_KEPT = 8192
"""Distinct SQL strings whose readings are kept (per process, least recently used out)."""

sql_verb = functools.lru_cache(maxsize=SQL_STRINGS_KEPT)(sqltext.verb)
_dml_table = functools.lru_cache(maxsize=SQL_STRINGS_KEPT)(sqltext.dml_table)


def verb(statement: Statement) -> str:
    """First SQL keyword, upper case (`SELECT`, `INSERT`, ...)."""
    return sql_verb(statement.sql)


def dml_table(statement: Statement) -> Optional[str]:
    """Table an INSERT/UPDATE/DELETE writes to, unquoted."""
    return _dml_table(statement.sql)


Place = tuple[str, int]
"""(file, line) of the innermost frame of the user's code a statement ran under."""


class StatementIndex:
    """A report's statement indexes grouped by verb, fingerprint, origin, line and place,
    made in one pass that every rule shares (`index(report)`), so a rule reads only its own."""

    __slots__ = (
        "by_fingerprint",
        "by_line",
        "by_origin",
        "by_place",
        "by_request",
        "by_verb",
        "places",
        "requests",
        "verbs",
    )

    def __init__(self, statements: Sequence[Statement], filename: str = "") -> None:
        by_verb: defaultdict[str, list[int]] = defaultdict(list)
        by_fingerprint: defaultdict[str, list[int]] = defaultdict(list)
        by_origin: defaultdict[str, list[int]] = defaultdict(list)
        by_line: defaultdict[int, list[int]] = defaultdict(list)
        by_place: defaultdict[Place, list[int]] = defaultdict(list)
        by_request: defaultdict[Optional[int], list[int]] = defaultdict(list)
        verbs = []
        requests = []
        places: list[Optional[Place]] = []
        # A report's statements share a few `Site` objects: each one's place is made once.
        site_places: dict[int, tuple[Site, Place]] = {}
        for position, statement in enumerate(statements):
            kind = sql_verb(statement.sql)
            verbs.append(kind)
            by_verb[kind].append(position)
            by_fingerprint[statement.fingerprint].append(position)
            by_origin[statement.origin].append(position)
            line = statement.line
            if line is not None:
                by_line[line].append(position)
            requests.append(statement.request_index)
            by_request[statement.request_index].append(position)
            site = statement.site
            place: Optional[Place]
            if site is not None:
                known = site_places.get(id(site))
                if known is None:
                    known = site_places[id(site)] = (site, (site.file, site.line))
                place = known[1]
            else:
                place = (filename, line) if line is not None else None
            places.append(place)
            if place is not None:
                by_place[place].append(position)
        self.verbs = tuple(verbs)
        """Each statement's verb (`sql_verb`), by position."""
        self.places = tuple(places)
        """Each statement's place (`Place`, or None outside the user's code), by position:
        its `site`, else its `line` in the profiled file."""
        self.by_verb: dict[str, list[int]] = dict(by_verb)
        self.by_fingerprint: dict[str, list[int]] = dict(by_fingerprint)
        self.by_origin: dict[str, list[int]] = dict(by_origin)
        self.by_line: dict[int, list[int]] = dict(by_line)
        self.by_place: dict[Place, list[int]] = dict(by_place)
        self.requests = tuple(requests)
        """Each statement's `request_index` (None outside any request), by position."""
        self.by_request: dict[Optional[int], list[int]] = dict(by_request)
        """Statement indexes per request, in order; None: the statements outside any request."""

    def of_verb(self, *verbs: str) -> list[int]:
        """Indexes of the statements whose SQL starts with one of `verbs`, in order."""
        if len(verbs) == 1:
            return self.by_verb.get(verbs[0], [])
        return sorted(i for kind in verbs for i in self.by_verb.get(kind, ()))

    def of_origin(self, origin: str) -> list[int]:
        return self.by_origin.get(origin, [])

    def of_place(self, place: Place) -> list[int]:
        return self.by_place.get(place, [])

    def on_lines(self, first: int, last: int, verb: Optional[str] = None) -> list[int]:
        """Indexes of the statements caused by lines `first` to `last` (with `verb` only,
        if given), in order."""
        if last - first < len(self.by_line):
            found = [i for line in range(first, last + 1) for i in self.by_line.get(line, ())]
        else:
            found = [i for line, group in self.by_line.items() if first <= line <= last for i in group]
        if verb is not None:
            found = [i for i in found if self.verbs[i] == verb]
        return sorted(found)

    def per_request(self, indexes: Iterable[int]) -> dict[Optional[int], list[int]]:
        """`indexes` split by the request they ran in (None: outside any request), in order."""
        split: dict[Optional[int], list[int]] = {}
        requests = self.requests
        for i in indexes:
            split.setdefault(requests[i], []).append(i)
        return split


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
    counts: dict[str, set[int]] = {}
    for i in indexes:
        statement = report.statements[i]
        if statement.request is not None:
            counts.setdefault(statement.request, set()).add(statement.request_index or 0)
    return [text if len(seen) == 1 else f"{text} ({len(seen)} requests)" for text, seen in counts.items()]


def request_words(report: Report, indexes: Iterable[int]) -> str:
    """ " in request GET /x" / " in 3 requests (GET /x, GET /y)", or "" outside any request."""
    chosen = list(indexes)
    units = {report.statements[i].request_index for i in chosen} - {None}
    if not units:
        return ""
    texts = requests_of(report, chosen)
    if len(units) == 1:
        return f" in request `{texts[0]}`"
    shown = ", ".join(f"`{t}`" for t in texts[:3]) + (", ..." if len(texts) > 3 else "")
    return f" in {len(units)} requests ({shown})"


def executions(statements: Sequence[Statement]) -> int:
    """Rows a group of DML statements carried, in all.

    Each statement counts its parameter sets (an executemany's list), and an INSERT batch
    of insertmanyvalues, which hands the cursor one flat set for many rows, counts the
    rows the database says it inserted: 20,000 rows sent in 20 batches are 20,000.
    """
    return sum(statement_rows_written(s) for s in statements)


def statement_rows_written(statement: Statement) -> int:
    """Rows one DML execution carried (at least 1)."""
    if statement.param_sets > 1:
        return statement.param_sets
    if statement.executemany and statement.rowcount > 1 and sql_verb(statement.sql) == "INSERT":
        return statement.rowcount
    return 1


def by_key(report: Report, key: object, indexes: Optional[Iterable[int]] = None) -> dict[object, list[int]]:
    """Statement indexes grouped by `key(statement)`, skipping `None` keys."""
    groups: dict[object, list[int]] = defaultdict(list)
    chosen = range(len(report.statements)) if indexes is None else indexes
    for index in chosen:
        value = key(report.statements[index])  # type: ignore[operator]
        if value is not None:
            groups[value].append(index)
    return dict(groups)


def writes_by_table(report: Report, verb_: str, threshold: int) -> list[tuple[str, list[int], int]]:
    """Tables that `verb_` statements (INSERT, UPDATE) wrote at least `threshold` rows to:
    the table, its statements' indexes and the rows they carried, in order of first write."""
    groups = by_key(report, dml_table, index(report).of_verb(verb_))
    written = []
    for table, indexes in groups.items():
        rows = executions([report.statements[i] for i in indexes])
        if rows >= threshold:
            written.append((str(table), indexes, rows))
    return written


def lines_of(report: Report, indexes: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted({line for i in indexes if (line := report.statements[i].line) is not None}))


def seconds(report: Report, indexes: Iterable[int]) -> float:
    statements = report.statements
    return sum([s.duration_s + s.fetch_s for s in [statements[i] for i in indexes]])


def database_seconds(report: Report) -> float:
    return sum([s.duration_s + s.fetch_s for s in report.statements])


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
