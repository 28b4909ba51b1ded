"""seq-scan: EXPLAIN shows a full table scan filtered on a column without an index.

Evidence: plan warnings of kind `seq-scan` (from `sqla_magic.explain`), with their table,
filter columns and the planner's row estimate; estimates below `seq_scan_min_rows` are
ignored (unknown estimates, as on SQLite, are kept).  A scan filtered on a column that
already leads an index of the mapped table (its primary key, an `index=True` / `unique=True`
column, an `Index`) is the planner's choice, not a missing index: no finding.  The fix is
an index on the filtered column(s), declared on the model; its SQL is quoted as the
database quotes identifiers (`"user"` on PostgreSQL).
"""

from __future__ import annotations

from typing import Any, Optional

from sqla_magic import _compat
from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Site

RULE = "seq-scan"


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    findings = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    indexed: Optional[dict[str, set[str]]] = None
    for plan in report.plans:
        for warning in plan.warnings:
            if warning.kind != "seq-scan" or not warning.table:
                continue
            if warning.rows is not None and warning.rows < thresholds.seq_scan_min_rows:
                continue
            key = (warning.table, warning.columns)
            if key in seen:
                continue
            seen.add(key)
            if indexed is None:
                indexed = leading_index_columns()
            if set(warning.columns) & indexed.get(warning.table.lower(), set()):
                continue
            quote = _compat.identifier_quoter(plan.dialect)
            same = evidence.index(report).by_fingerprint.get(plan.fingerprint, [])
            columns = ", ".join(warning.columns) or "the filtered column"
            estimate = f" (~{warning.rows:.0f} rows)" if warning.rows is not None else ""
            index_name = f"ix_{warning.table}_{'_'.join(warning.columns) or 'column'}"
            findings.append(
                Finding(
                    rule=RULE,
                    severity="medium",
                    title=f"Full scan of {warning.table} filtered on {columns}",
                    message=(
                        f"EXPLAIN{' ANALYZE' if plan.analyzed else ''} of the statement run "
                        f"{evidence.plural(len(same), 'time')} from "
                        f"{sites.where_all(report, _places(report, same))} "
                        f"({evidence.ms(evidence.seconds(report, same))} in all) reads all of "
                        f"`{warning.table}`{estimate} to filter on {columns}: {warning.message}"
                    ),
                    lines=evidence.lines_of(report, same),
                    sites=sites.sites(report, same),
                    statements=tuple(same),
                    fix=(
                        f"Add an index: `index=True` on the column(s) {columns} of the model mapped to "
                        f"`{warning.table}`, or `Index({index_name!r}, "
                        f"{', '.join(repr(c) for c in warning.columns)})` in its `__table_args__`; in SQL: "
                        f"`CREATE INDEX {quote(index_name)} ON {quote(warning.table)} "
                        f"({', '.join(quote(c) for c in warning.columns)})`."
                    ),
                )
            )
    return findings


def leading_index_columns() -> dict[str, set[str]]:
    """Per mapped table name (lower case), the columns that lead one of its indexes."""
    leading: dict[str, set[str]] = {}
    for table in _compat.mapped_tables():
        columns = leading.setdefault(str(table.name).lower(), set())
        primary = list(table.primary_key.columns)
        if primary:
            columns.add(primary[0].name)
        for index in table.indexes:
            first = _first_column(index)
            if first is not None:
                columns.add(first)
        for constraint in table.constraints:
            if type(constraint).__name__ == "UniqueConstraint":
                first = _first_column(constraint)
                if first is not None:
                    columns.add(first)
        columns.update(c.name for c in table.columns if c.index or c.unique)
    return leading


def _first_column(index: Any) -> Optional[str]:
    members = list(getattr(index, "columns", ()))
    return str(members[0].name) if members else None


def _places(report: Report, indexes: list[int]) -> list[Site]:
    return list(
        dict.fromkeys(p for i in indexes if (p := sites.site(report, report.statements[i])) is not None)
    )
