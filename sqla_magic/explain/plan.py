"""The common plan model's helpers: building `Plan`s and wording their warnings.

Every dialect module turns its database's output into a tree of `PlanNode` and a tuple
of `PlanWarning`; the kinds and thresholds of the warnings are defined here so that the
three databases flag the same situations in the same words.

Warning kinds:

- `seq-scan`: a full table scan filtered on columns (`table`, `columns`; `rows`: rows the
  scan reads where the database says so, else rows in the table if known).  The
  `seq-scan` finding suggests an index on those columns.
- `temp-btree` (SQLite) / `filesort` / `temp-table`: sorting, grouping or DISTINCT done
  in a temporary structure rather than by reading an index in order.
- `nested-loop`: a join that scans a table in full once per row of the outer input.
- `row-mismatch` (ANALYZE only): the planner's row estimate is off by `ROW_MISMATCH_FACTOR`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from sqla_magic.model import Plan, PlanNode, PlanWarning

MIN_SCAN_ROWS = 1_000
"""Full scans reading fewer rows than this (where the count is known) are not flagged."""
NESTED_LOOP_ROWS = 1_000
"""A nested loop is flagged when its outer input has at least this many rows."""
LARGE_SORT_ROWS = 10_000
"""Sorts of at least this many rows (or spilling to disk) are flagged on PostgreSQL."""
ROW_MISMATCH_FACTOR = 10.0
ROW_MISMATCH_MIN_DIFFERENCE = 1_000


@dataclass(frozen=True)
class ParsedPlan:
    """A dialect parser's result: the tree and what to look at in it."""

    root: Optional[PlanNode]
    warnings: tuple[PlanWarning, ...] = ()
    note: Optional[str] = None


def number(value: Any) -> Optional[float]:
    """A float from a plan field, or None for missing / non-numeric values."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def rows_text(rows: Optional[float]) -> str:
    if rows is None:
        return "an unknown number of"
    return f"{rows:,.0f}"


def seq_scan(
    table: str, columns: tuple[str, ...], rows: Optional[float], *, how: str = "full scan"
) -> Optional[PlanWarning]:
    """A `seq-scan` warning, or None when the scan filters on nothing or reads few rows."""
    if not columns or (rows is not None and rows < MIN_SCAN_ROWS):
        return None
    reads = "" if rows is None else f", reading {rows_text(rows)} rows"
    return PlanWarning(
        kind="seq-scan",
        message=f"{how} of {table} filtered on {', '.join(columns)}{reads}; "
        f"an index on {', '.join(columns)} may avoid it",
        table=table,
        columns=columns,
        rows=rows,
    )


def nested_loop(
    table: Optional[str], outer_rows: float, columns: tuple[str, ...], *, what: str
) -> PlanWarning:
    """A `nested-loop` warning: `what` says, in the database's terms, what is repeated."""
    hint = f"; an index on {', '.join(columns)} may avoid it" if columns else ""
    return PlanWarning(kind="nested-loop", message=what + hint, table=table, columns=columns, rows=outer_rows)


def row_mismatch(node: PlanNode) -> Optional[PlanWarning]:
    """A `row-mismatch` warning when ANALYZE's row count is far from the estimate."""
    estimated, actual = node.rows, node.actual_rows
    if estimated is None or actual is None:
        return None
    loops = node.loops or 1.0
    low, high = sorted((estimated, actual))
    if (high - low) * loops < ROW_MISMATCH_MIN_DIFFERENCE or high < ROW_MISMATCH_FACTOR * max(low, 1.0):
        return None
    where = f" on {node.table}" if node.table else ""
    return PlanWarning(
        kind="row-mismatch",
        message=f"{node.label}{where}: estimated {rows_text(estimated)} rows, got {rows_text(actual)}"
        + (f" per loop ({loops:,.0f} loops)" if loops > 1 else "")
        + "; statistics may be stale (ANALYZE the table)",
        table=node.table,
        rows=actual,
    )


def unexplained(
    fingerprint: str, dialect: str, note: str, *, sql: str = "", statement: Optional[int] = None
) -> Plan:
    """A Plan that says in words why there is no plan tree."""
    return Plan(
        fingerprint=fingerprint,
        dialect=dialect,
        analyzed=False,
        root=None,
        statement=statement,
        sql=sql,
        note=note,
    )


def joined_notes(*notes: Optional[str]) -> Optional[str]:
    kept = [n for n in notes if n]
    return "; ".join(kept) if kept else None


def describe_error(problem: BaseException) -> str:
    """The database's own message, first line, without SQLAlchemy's statement echo."""
    original = getattr(problem, "orig", None) or problem
    text = str(original).strip().splitlines()
    message = text[0] if text else ""
    return f"{type(original).__name__}: {message}"[:500]


def frozen(value: Any) -> Any:
    """A JSON-friendly copy with lists as tuples, as `Report.from_json` gives them back,
    so a report with plans survives the JSON round trip unchanged."""
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v) for v in value)
    if isinstance(value, dict):
        return {str(k): frozen(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
