"""PostgreSQL: `EXPLAIN (FORMAT JSON)`, with ANALYZE `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`.

The explain transaction is READ ONLY (plain EXPLAIN of DML is still allowed there, ANALYZE
of anything that writes is refused), has `lock_timeout` and `statement_timeout` set with
SET LOCAL, and is always rolled back.  PostgreSQL's `Filter` expressions name the columns
a scan filters on; `pg_class.reltuples` gives the size of a table scanned in full when
ANALYZE did not run.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any, Optional

from sqlalchemy import text

from sqla_magic.explain import sql as sqltext
from sqla_magic.explain.dialect import DialectExplainer
from sqla_magic.explain.plan import (
    LARGE_SORT_ROWS,
    MIN_SCAN_ROWS,
    NESTED_LOOP_ROWS,
    ParsedPlan,
    frozen,
    nested_loop,
    number,
    row_mismatch,
    rows_text,
    seq_scan,
)
from sqla_magic.model import PlanNode, PlanWarning

LOCK_TIMEOUT = "2s"
STATEMENT_TIMEOUT = "30s"

_DETAIL_FIELDS = (
    "Join Type",
    "Index Cond",
    "Recheck Cond",
    "Hash Cond",
    "Merge Cond",
    "Join Filter",
    "Filter",
    "Sort Key",
    "Group Key",
    "Sort Method",
    "Rows Removed by Filter",
    "CTE Name",
    "Subplan Name",
)
_SCAN_TYPES = ("Seq Scan",)
_BOUNDED_COUNT = "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT " + str(MIN_SCAN_ROWS) + ") AS bounded"
_TABLE_ROWS = text("SELECT c.reltuples FROM pg_catalog.pg_class c WHERE c.oid = to_regclass(:name)")


class PostgreSQLExplainer(DialectExplainer):
    @property
    def analyze_supported(self) -> bool:
        return True

    def explain_sql(self, sql: str, *, analyze: bool) -> str:
        options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
        return f"EXPLAIN ({options}) {sql}"

    @property
    def transaction_isolation(self) -> Optional[str]:
        return "READ COMMITTED"

    def prepare_transaction(self, conn: Any, *, read_only: bool) -> None:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")

    def read(self, rows: list[tuple[Any, ...]]) -> Any:
        value = rows[0][0] if rows else None
        if isinstance(value, (str, bytes)):
            value = json.loads(value)
        return frozen(value)

    def table_sizes(self, conn: Any, raw: Any) -> dict[str, float]:
        """Estimated rows of each table scanned in full, from the statistics."""
        sizes: dict[str, float] = {}
        for plan in _plans(raw):
            if plan.get("Node Type") in _SCAN_TYPES and "Relation Name" in plan and "Actual Rows" not in plan:
                name = plan["Relation Name"]
                if name in sizes:
                    continue
                schema = plan.get("Schema")
                qualified = f'"{schema}"."{name}"' if schema else f'"{name}"'
                value = number(conn.execute(_TABLE_ROWS, {"name": qualified}).scalar())
                if value is not None and value < 0:
                    # Never analyzed (PostgreSQL 14+): count, up to the bound that matters.
                    value = number(conn.exec_driver_sql(_BOUNDED_COUNT.format(qualified)).scalar())
                    if value is not None and value >= MIN_SCAN_ROWS:
                        continue
                if value is not None and value >= 0:
                    sizes[name] = value
        return sizes

    def parse(
        self, raw: Any, sql: str, *, analyzed: bool, sizes: Optional[dict[str, float]] = None
    ) -> ParsedPlan:
        return parse_json_plan(raw, sizes or {})


def _plans(raw: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = [entry["Plan"] for entry in (raw or ()) if isinstance(entry, dict) and "Plan" in entry]
    while stack:
        plan = stack.pop()
        found.append(plan)
        stack.extend(plan.get("Plans", ()))
    return found


def parse_json_plan(raw: Any, sizes: Optional[dict[str, float]] = None) -> ParsedPlan:
    """The tree and warnings of `EXPLAIN (FORMAT JSON)` output (ANALYZE or not)."""
    entries = [e for e in (raw or ()) if isinstance(e, dict) and "Plan" in e]
    if not entries:
        return ParsedPlan(None, note="PostgreSQL returned no plan")
    entry = entries[0]
    warnings: list[PlanWarning] = []
    root = _node(entry["Plan"], warnings, sizes or {})
    total = number(entry.get("Execution Time"))
    if total is not None and root.actual_time_ms is None:
        root = replace(root, actual_time_ms=total)
    return ParsedPlan(root, tuple(warnings))


def _node(plan: dict[str, Any], warnings: list[PlanWarning], sizes: dict[str, float]) -> PlanNode:
    children = tuple(_node(child, warnings, sizes) for child in plan.get("Plans", ()))
    kind = str(plan.get("Node Type", "?"))
    table = plan.get("Relation Name")
    alias = plan.get("Alias")
    loops = number(plan.get("Actual Loops"))
    per_loop_ms = number(plan.get("Actual Total Time"))
    filter_columns: tuple[str, ...] = ()
    if table and plan.get("Filter"):
        filter_columns = sqltext.columns_for(
            sqltext.expression_columns(str(plan["Filter"])), (table, alias or table), bare=True
        )
    node = PlanNode(
        label=kind,
        detail=_detail(plan),
        cost=number(plan.get("Total Cost")),
        rows=number(plan.get("Plan Rows")),
        actual_rows=number(plan.get("Actual Rows")),
        actual_time_ms=per_loop_ms * (loops or 1.0) if per_loop_ms is not None else None,
        table=table,
        index=plan.get("Index Name"),
        filter_columns=filter_columns,
        children=children,
        loops=loops,
    )
    warnings.extend(_warnings(node, plan, children, sizes, warnings))
    return node


def _detail(plan: dict[str, Any]) -> str:
    parts = []
    if plan.get("Relation Name"):
        alias = plan.get("Alias")
        name = plan["Relation Name"]
        parts.append(f"on {name}" + (f" {alias}" if alias and alias != name else ""))
    if plan.get("Index Name"):
        parts.append(f"using {plan['Index Name']}")
    for name in _DETAIL_FIELDS:
        value = plan.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{name}: {value}")
    if plan.get("Sort Space Type") == "Disk":
        parts.append(f"spilled {plan.get('Sort Space Used', '?')} kB to disk")
    return "; ".join(parts)


def _rows_out(node: PlanNode) -> Optional[float]:
    if node.actual_rows is not None:
        return node.actual_rows * (node.loops or 1.0)
    return node.rows


def _warnings(
    node: PlanNode,
    plan: dict[str, Any],
    children: tuple[PlanNode, ...],
    sizes: dict[str, float],
    earlier: list[PlanWarning],
) -> list[PlanWarning]:
    found: list[PlanWarning] = []
    if node.label in _SCAN_TYPES and node.table:
        read: Optional[float]
        if node.actual_rows is not None:
            removed = number(plan.get("Rows Removed by Filter")) or 0.0
            read = (node.actual_rows + removed) * (node.loops or 1.0)
        else:
            read = sizes.get(node.table)
        warning = seq_scan(node.table, node.filter_columns, read, how="sequential scan")
        if warning is not None:
            found.append(warning)
    elif node.label in ("Sort", "Incremental Sort"):
        rows = _rows_out(node)
        on_disk = plan.get("Sort Space Type") == "Disk"
        if on_disk or (rows is not None and rows >= LARGE_SORT_ROWS):
            keys = ", ".join(str(k) for k in plan.get("Sort Key", ()))
            found.append(
                PlanWarning(
                    kind="filesort",
                    message=f"sort of {rows_text(rows)} rows on {keys or '?'}"
                    + (" spilled to disk" if on_disk else "")
                    + "; an index in that order may let PostgreSQL read rows already sorted",
                    rows=rows,
                )
            )
    elif node.label == "Nested Loop" and len(children) == 2:
        found.extend(_nested_loop(node, plan, children))
    if node.actual_rows is not None and not _has_mismatch_below(children, earlier):
        mismatch = row_mismatch(node)
        if mismatch is not None:
            found.append(mismatch)
    return found


def _nested_loop(node: PlanNode, plan: dict[str, Any], children: tuple[PlanNode, ...]) -> list[PlanWarning]:
    outer, inner = children
    outer_rows = _rows_out(outer)
    if outer_rows is None or outer_rows < NESTED_LOOP_ROWS:
        return []
    scans = [n for n in inner.walk() if n.label in _SCAN_TYPES and n.table]
    if not scans:
        return []
    scanned = scans[0]
    columns = scanned.filter_columns
    join_filter = plan.get("Join Filter")
    if join_filter and scanned.table:
        columns = tuple(
            dict.fromkeys(
                (
                    *columns,
                    *sqltext.columns_for(
                        sqltext.expression_columns(str(join_filter)), _names(scanned), bare=False
                    ),
                )
            )
        )
    return [
        nested_loop(
            scanned.table,
            outer_rows,
            columns,
            what=f"nested loop scans {scanned.table} in full for each of {rows_text(outer_rows)} outer rows",
        )
    ]


def _names(node: PlanNode) -> tuple[str, ...]:
    """The relation's name and alias (from the `on table alias` detail)."""
    match = re.match(r"on ([^;\s]+)(?: ([^;\s]+))?", node.detail)
    return tuple(n for n in (match.groups() if match else (node.table,)) if n)


def _has_mismatch_below(children: tuple[PlanNode, ...], earlier: list[PlanWarning]) -> bool:
    """Estimates that are off low in the tree are off above it too: report the lowest."""
    if not any(w.kind == "row-mismatch" for w in earlier):
        return False
    return any(
        (n.rows is not None and n.actual_rows is not None and row_mismatch(n) is not None)
        for child in children
        for n in child.walk()
    )
