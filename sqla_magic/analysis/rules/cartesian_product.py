"""cartesian-product: a SELECT whose FROM list has elements no condition joins.

Evidence: SQLAlchemy's "cartesian product" linting warning (raised only when the
statement is compiled, so once per cache entry), and, for every run, the statement's own
SQL: a top-level FROM list of several elements whose WHERE clause does not link them all
with `a.x = b.y` conditions.  The fix is the missing join condition in the query.
"""

from __future__ import annotations

import functools
import re
from typing import Optional

from sqla_magic import sqltext
from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Site

RULE = "cartesian-product"
_LINK = re.compile(r"([\w\"`]+)\.[\w\"`]+\s*=\s*([\w\"`]+)\.[\w\"`]+")


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    findings = []
    indexed = evidence.index(report)
    crossed = evidence.merged(
        indexes for sql, indexes in indexed.selects_by_sql.items() if _unjoined(sql) is not None
    )
    by_fingerprint = evidence.grouped(evidence.picked(indexed.column("fingerprint"), crossed), crossed)
    warned = [w for w in report.warnings if "cartesian product" in w.message]
    used_warnings: set[int] = set()
    for indexes in by_fingerprint.values():
        lines = evidence.lines_of(report, indexes)
        stacks = evidence.picked(indexed.stacks, indexes)
        files = {
            p.file for frames in dict(zip(map(id, stacks), stacks, strict=True)).values() for p in frames
        }
        # A module's warning has no cell line: its file says which statements it came from.
        warning = next(
            (w for w in warned if w.line in lines or (w.line is None and w.filename in files)), None
        )
        if warning is not None:
            used_warnings.add(id(warning))
        rows = indexed.rows(indexes)
        elements = unjoined(report.statements[indexes[0]].sql) or []
        findings.append(
            Finding(
                rule=RULE,
                severity="high",
                title=f"Cartesian product between {' and '.join(elements)}",
                message=(
                    f"{sites.where_all(report, _places(report, indexes))} ran a SELECT "
                    f"{evidence.plural(len(indexes), 'time')} "
                    f"whose FROM list ({', '.join(elements)}) has no join condition between its elements: "
                    f"every row of one is paired with every row of the other ({rows} rows fetched, "
                    f"{evidence.ms(evidence.seconds(report, indexes))})."
                    + (f" SQLAlchemy warned: {warning.message}" if warning is not None else "")
                ),
                lines=lines,
                sites=sites.sites(report, indexes),
                statements=tuple(indexes),
                fix="Add the join condition: `.join(Other, Parent.id == Other.parent_id)` or a "
                "`.where(a.x == b.y)` linking the entities.",
            )
        )
    for warning in warned:
        if id(warning) in used_warnings:
            continue
        indexes = evidence.index(report).by_line.get(warning.line, []) if warning.line is not None else []
        findings.append(
            Finding(
                rule=RULE,
                severity="high",
                title="Cartesian product",
                message=f"SQLAlchemy warned on {evidence.line_words(_lines(warning.line))}: "
                f"{warning.message}",
                lines=_lines(warning.line),
                statements=tuple(indexes),
                fix="Add the join condition between the FROM elements SQLAlchemy names.",
            )
        )
    return findings


def _lines(line: Optional[int]) -> tuple[int, ...]:
    return (line,) if line is not None else ()


def unjoined(sql: str) -> Optional[list[str]]:
    """The top-level FROM elements of `sql` if some are not linked by a condition."""
    elements = _unjoined(sql)
    return list(elements) if elements is not None else None


@functools.lru_cache(maxsize=evidence.SQL_STRINGS_KEPT)
def _unjoined(sql: str) -> Optional[tuple[str, ...]]:
    clause, where = sqltext.from_clause(sql)
    if clause is None:
        return None
    elements = [e.strip() for e in sqltext.split_top_level(clause, ",") if e.strip()]
    if len(elements) < 2:
        return None
    names = [_names(e) for e in elements]
    group = list(range(len(elements)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for left, right in _LINK.findall(where):
        a = [i for i, n in enumerate(names) if left.strip('"`').lower() in n]
        b = [i for i, n in enumerate(names) if right.strip('"`').lower() in n]
        if a and b:
            group[root(a[0])] = root(b[0])
    if len({root(i) for i in range(len(elements))}) == 1:
        return None
    return tuple(e.split()[0].strip('"`') for e in elements)


def _names(element: str) -> set[str]:
    """Table names and aliases an element of the FROM list makes visible (JOINs included)."""
    words = re.findall(r"[\w\"`.]+", element)
    names = set()
    for word in words:
        if word.upper() in (
            "JOIN",
            "LEFT",
            "RIGHT",
            "INNER",
            "OUTER",
            "FULL",
            "CROSS",
            "ON",
            "AS",
            "AND",
            "OR",
        ):
            continue
        names.add(word.strip('"`').rsplit(".", 1)[-1].lower())
    return names


def _places(report: Report, indexes: list[int]) -> list[Site]:
    return sites.distinct_frames(report, indexes)
