"""What `BudgetExceeded` says: which limit, by how much, and where in the code.

Short enough for a test failure or a worker's log line, and complete enough to act on
without opening the full report: the offending shape's SQL, its origin and site.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqla_magic.model import Report, Statement
from sqla_magic.render.summary import format_duration, one_line_sql, plural

SQL_WIDTH = 100
MAX_SHAPES = 5


def where(report: Report, statement: Statement) -> str:
    """`app/books.py:12 in load_books`: the user's code that ran a statement, as well as known."""
    site = getattr(statement, "site", None)
    if site is not None:
        return f"{site.file}:{site.line} in {site.function}"
    if statement.line is not None:
        return f"{report.filename or 'the profiled code'}:{statement.line}"
    return "no profiled line on the stack"


def render_budget_text(report: Report, violations: Sequence[Any]) -> str:
    """The summary: each violation, then the busiest statement shapes of the run."""
    lines = ["statement budget exceeded:"]
    for violation in violations:
        lines.append(f"  - {violation.message}")
        if violation.statement is not None:
            statement = report.statements[violation.statement]
            lines.append(f"      {one_line_sql(statement.sql, SQL_WIDTH)}")
            lines.append(f"      {statement.origin}, at {where(report, statement)}")
        finding = violation.finding
        if finding is not None:
            lines.append(f"      {finding.message}")
            if finding.statements and 0 <= finding.statements[0] < len(report.statements):
                lines.append(f"      at {where(report, report.statements[finding.statements[0]])}")
    shapes = Counter(s.fingerprint for s in report.statements)
    total = format_duration(sum(s.duration_s for s in report.statements))
    counted = f"{plural(len(report.statements), 'statement')} in {plural(len(shapes), 'shape')}"
    lines.append(f"{counted}, {total} in the database:")
    first: dict[str, Statement] = {}
    for statement in report.statements:
        first.setdefault(statement.fingerprint, statement)
    for fingerprint, count in shapes.most_common(MAX_SHAPES):
        lines.append(f"  {count:>6,} × {one_line_sql(first[fingerprint].sql, SQL_WIDTH)}")
    if len(shapes) > MAX_SHAPES:
        lines.append(f"  … {plural(len(shapes) - MAX_SHAPES, 'more shape')}")
    return "\n".join(lines)
