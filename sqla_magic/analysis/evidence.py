"""Small readings of a `Report` that several rules share: groups, tables, wording."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Optional

from sqla_magic import sqltext
from sqla_magic.model import Report, Statement


def verb(statement: Statement) -> str:
    """First SQL keyword, upper case (`SELECT`, `INSERT`, ...)."""
    return sqltext.verb(statement.sql)


def dml_table(statement: Statement) -> Optional[str]:
    """Table an INSERT/UPDATE/DELETE writes to, unquoted."""
    return sqltext.dml_table(statement.sql)


def executions(statements: Sequence[Statement]) -> int:
    """Rows a group of DML statements carried, at least.

    2.0's insertmanyvalues reports the full parameter list with every batch, 2.1 each
    batch's own: the larger of the statement count and the largest parameter list is a
    lower bound that holds for both.
    """
    if not statements:
        return 0
    return max(len(statements), max(s.param_sets for s in statements))


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
    groups = by_key(report, lambda s: dml_table(s) if verb(s) == verb_ else None)
    written = []
    for table, indexes in groups.items():
        rows = executions([report.statements[i] for i in indexes])
        if rows >= threshold:
            written.append((str(table), indexes, rows))
    return written


def lines_of(report: Report, indexes: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted({line for i in indexes if (line := report.statements[i].line) is not None}))


def seconds(report: Report, indexes: Iterable[int]) -> float:
    return sum(report.statements[i].duration_s + report.statements[i].fetch_s for i in indexes)


def database_seconds(report: Report) -> float:
    return sum(s.duration_s + s.fetch_s for s in report.statements)


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
