"""MySQL and MariaDB: `EXPLAIN FORMAT=JSON`; with ANALYZE, MariaDB's `ANALYZE FORMAT=JSON`
and MySQL 8's `EXPLAIN ANALYZE` (a text tree), for read-only statements only.

Session guards (`innodb_lock_wait_timeout`, `lock_wait_timeout`, a statement time limit)
are set on the explain connection, which is discarded afterwards.  ANALYZE runs inside
`START TRANSACTION READ ONLY`, always rolled back; plain EXPLAIN of DML cannot use a READ
ONLY transaction (MariaDB rejects even `EXPLAIN DELETE` there), so it runs in an ordinary
one, also rolled back: plain EXPLAIN never executes the statement.

Both JSON formats nest operations (`nested_loop`, `filesort`, `temporary_table`,
`ordering_operation`, `subqueries` ...) around `table` objects; the walk below is generic
over those keys.  `table_name` is the alias where the statement gives one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Optional

from sqla_magic.explain import lexer
from sqla_magic.explain import sql as sqltext
from sqla_magic.explain.dialect import DialectExplainer
from sqla_magic.explain.plan import (
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

LOCK_WAIT_TIMEOUT_S = 2
STATEMENT_TIME_LIMIT_S = 30

_ACCESS_LABELS = {
    "ALL": "Full Table Scan",
    "index": "Full Index Scan",
    "range": "Index Range Scan",
    "ref": "Index Lookup",
    "eq_ref": "Unique Index Lookup",
    "ref_or_null": "Index Lookup (or NULL)",
    "const": "Constant Lookup",
    "system": "System Table",
    "index_merge": "Index Merge",
    "fulltext": "Fulltext Index",
    "hash_ALL": "Hash Join (full scan)",
    "index_subquery": "Index Subquery",
    "unique_subquery": "Unique Subquery",
}
_FULL_SCANS = frozenset({"ALL", "index", "hash_ALL"})
_PURE_FUNCTIONS = frozenset(
    [
        "COALESCE",
        "IFNULL",
        "NULLIF",
        "LOWER",
        "UPPER",
        "CONCAT",
        "CONCAT_WS",
        "LENGTH",
        "CHAR_LENGTH",
        "SUBSTRING",
        "SUBSTR",
        "TRIM",
        "ABS",
        "ROUND",
        "FLOOR",
        "CEIL",
        "CEILING",
        "GREATEST",
        "LEAST",
        "CAST",
        "CONVERT",
        "IF",
        "NOW",
        "CURRENT_TIMESTAMP",
        "UTC_TIMESTAMP",
        "DATE",
        "DATE_ADD",
        "DATE_SUB",
        "COUNT",
        "SUM",
        "MIN",
        "MAX",
        "AVG",
        "VALUES",
    ]
)
"""Built-in functions with no side effects that SQLAlchemy emits in DML."""
_NOT_PLAN = frozenset({"r_engine_stats", "cost_info", "query_optimization", "used_columns", "possible_keys"})
_IS_NOT_NULL = re.compile(r"[\w`.$]+\s+is\s+not\s+null", re.IGNORECASE)
_ANALYZE_LINE = re.compile(
    r"^(?P<indent>\s*)->\s*(?P<label>.*?)\s*(?:\(cost=(?P<cost>[\d.e+]+)\s+rows=(?P<rows>[\d.e+]+)\))?"
    r"\s*(?:\(actual time=[\d.e+]+\.\.(?P<time>[\d.e+]+)"
    r"\s+rows=(?P<actual>[\d.e+]+)\s+loops=(?P<loops>\d+)\))?\s*$"
)
_TABLE_SCAN = re.compile(r"^Table scan on (?P<table>\S+)")


class MySQLExplainer(DialectExplainer):
    # The dialect learns the server's kind and version on its first connection, which
    # may be the explain connection itself: they are read when needed, not up front.

    @property
    def dialect(self) -> str:
        return "mariadb" if self.is_mariadb else "mysql"

    @property
    def is_mariadb(self) -> bool:
        return bool(getattr(self.sa_dialect, "is_mariadb", False)) or self.sa_dialect.name == "mariadb"

    @property
    def analyze_supported(self) -> bool:
        # MySQL has EXPLAIN ANALYZE from 8.0.18; MariaDB has had ANALYZE FORMAT=JSON since 10.1.
        version = tuple(getattr(self.sa_dialect, "server_version_info", None) or ())
        return self.is_mariadb or version >= (8, 0, 18)

    def explain_sql(self, sql: str, *, analyze: bool) -> str:
        if analyze:
            return f"ANALYZE FORMAT=JSON {sql}" if self.is_mariadb else f"EXPLAIN ANALYZE {sql}"
        return f"EXPLAIN FORMAT=JSON {sql}"

    def prepare_session(self, conn: Any) -> None:
        limit = (
            f"max_statement_time={STATEMENT_TIME_LIMIT_S}"
            if self.is_mariadb
            else f"max_execution_time={STATEMENT_TIME_LIMIT_S * 1000}"
        )
        conn.exec_driver_sql(
            f"SET SESSION innodb_lock_wait_timeout={LOCK_WAIT_TIMEOUT_S}, "
            f"lock_wait_timeout={LOCK_WAIT_TIMEOUT_S}, {limit}"
        )

    @property
    def transaction_isolation(self) -> Optional[str]:
        return "REPEATABLE READ"

    def prepare_transaction(self, conn: Any, *, read_only: bool) -> None:
        # MariaDB runs stored functions and subqueries while planning a plain EXPLAIN, so
        # reads are explained READ ONLY too; DML cannot be (even EXPLAIN DELETE is refused
        # there), see plain_refusal.
        conn.exec_driver_sql("START TRANSACTION READ ONLY" if read_only else "START TRANSACTION")

    def plain_refusal(self, statement: lexer.Classified) -> Optional[str]:
        if statement.kind == lexer.READ:
            return None  # explained READ ONLY
        called = [name for name in statement.functions if name not in _PURE_FUNCTIONS]
        if statement.subquery or called:
            what = "a subquery" if statement.subquery else f"a call to {called[0]}()"
            return (
                f"this statement changes data or takes row locks and has {what}, which "
                f"{self.dialect} may run while planning, and its EXPLAIN cannot be made read-only"
            )
        return None

    def read(self, rows: list[tuple[Any, ...]]) -> Any:
        value = rows[0][0] if rows else None
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("{"):
                return frozen(json.loads(stripped))
            return tuple(stripped.splitlines())
        return frozen(value)

    def parse(
        self, raw: Any, sql: str, *, analyzed: bool, sizes: Optional[dict[str, float]] = None
    ) -> ParsedPlan:
        if isinstance(raw, dict):
            return parse_json_plan(raw, sql)
        if isinstance(raw, (list, tuple)):
            return parse_analyze_text(raw, sql)
        return ParsedPlan(None, note="the database returned no plan")


@dataclass
class _Walk:
    shape: sqltext.StatementShape
    single_table: bool
    warnings: list[PlanWarning]


def parse_json_plan(raw: dict[str, Any], sql: str) -> ParsedPlan:
    """The tree and warnings of `EXPLAIN FORMAT=JSON` / `ANALYZE FORMAT=JSON` output."""
    shape = sqltext.statement_shape(sql)
    real_tables = {t.lower() for t in shape.tables.values()}
    walk = _Walk(shape, len(real_tables) == 1, [])
    block = raw.get("query_block")
    if not isinstance(block, dict):
        return ParsedPlan(None, note="no query_block in the plan")
    root = _walk_operation("query_block", block, walk)
    return ParsedPlan(root, tuple(walk.warnings))


def _walk_operation(key: str, obj: dict[str, Any], walk: _Walk) -> PlanNode:
    if "table_name" in obj:
        return _table(obj, walk)
    children = _children(obj, walk)
    details = [f"{k}: {_scalar(v)}" for k, v in obj.items() if _is_scalar(v) and not k.startswith("r_")]
    label = key.replace("_", " ")
    if key == "query_block" and "select_id" in obj:
        label = f"query block #{obj['select_id']}"
    if key == "filesort" or obj.get("using_filesort") is True:
        walk.warnings.append(
            PlanWarning(
                kind="filesort",
                message=f"filesort on {obj.get('sort_key', 'the ORDER BY / GROUP BY columns')}; "
                "an index in that order may let the database read rows already sorted",
                table=_first_table(children),
            )
        )
    if key == "temporary_table" or obj.get("using_temporary_table") is True:
        walk.warnings.append(
            PlanWarning(
                kind="temp-table",
                message="a temporary table is built (GROUP BY / DISTINCT / UNION); "
                "an index on the grouped columns may avoid it",
                table=_first_table(children),
            )
        )
    time_ms = number(obj.get("r_total_time_ms"))
    loops = number(obj.get("r_loops"))
    return PlanNode(
        label=label,
        detail="; ".join(details),
        cost=number((obj.get("cost_info") or {}).get("query_cost")),
        actual_time_ms=time_ms,
        loops=loops,
        children=tuple(children),
    )


def _children(obj: dict[str, Any], walk: _Walk) -> list[PlanNode]:
    children: list[PlanNode] = []
    for key, value in obj.items():
        if key in _NOT_PLAN:
            continue
        if key == "table" and isinstance(value, dict):
            children.append(_table(value, walk))
        elif isinstance(value, dict) and _is_plan(value):
            children.append(_walk_operation(key, value, walk))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, dict) for v in value):
            steps = [child for item in value for child in _children(item, walk)]
            if key == "nested_loop":
                _flag_nested_loops(steps, walk)
            children.append(PlanNode(label=key.replace("_", " "), children=tuple(steps)))
    return children


def _is_plan(value: dict[str, Any]) -> bool:
    return "table_name" in value or any(
        isinstance(v, dict) or (isinstance(v, (list, tuple)) and v and isinstance(v[0], dict))
        for k, v in value.items()
        if k not in _NOT_PLAN
    )


def _table(obj: dict[str, Any], walk: _Walk) -> PlanNode:
    name = str(obj.get("table_name", "?"))
    table = walk.shape.table(name)
    access = str(obj.get("access_type", ""))
    condition = obj.get("attached_condition")
    columns: tuple[str, ...] = ()
    if isinstance(condition, str):
        pairs = sqltext.expression_columns(_IS_NOT_NULL.sub("", condition))
        columns = sqltext.columns_for(pairs, (name, table), bare=walk.single_table)
    rows = number(obj.get("rows", obj.get("rows_examined_per_scan")))
    actual = number(obj.get("r_rows"))
    loops = number(obj.get("r_loops"))
    table_ms = number(obj.get("r_table_time_ms"))
    other_ms = number(obj.get("r_other_time_ms"))
    time_ms = None if table_ms is None and other_ms is None else (table_ms or 0.0) + (other_ms or 0.0)
    cost_info = obj.get("cost_info") or {}
    details = [f"table {name}" + (f" ({table})" if table.lower() != name.lower() else "")]
    if obj.get("key"):
        details.append(f"key {obj['key']}")
    if obj.get("ref"):
        details.append(f"ref {', '.join(str(r) for r in obj['ref'])}")
    if isinstance(condition, str):
        details.append(f"condition: {condition}")
    node = PlanNode(
        label=_ACCESS_LABELS.get(access, access or "table"),
        detail="; ".join(details),
        cost=number(cost_info.get("prefix_cost") or cost_info.get("read_cost")),
        rows=rows,
        actual_rows=actual,
        actual_time_ms=time_ms,
        table=table,
        index=obj.get("key"),
        filter_columns=columns if access in _FULL_SCANS else (),
        children=tuple(_children({k: v for k, v in obj.items() if k != "table"}, walk)),
        loops=loops,
    )
    if access in _FULL_SCANS:
        read = actual * (loops or 1.0) if actual is not None else rows
        how = "full index scan" if access == "index" else "full table scan"
        warning = seq_scan(table, columns, read, how=how)
        if warning is not None:
            walk.warnings.append(warning)
    if actual is not None:
        mismatch = row_mismatch(node)
        if mismatch is not None:
            walk.warnings.append(mismatch)
    return node


def _flag_nested_loops(steps: list[PlanNode], walk: _Walk) -> None:
    """Tables after the first in a join order are read once per row of those before them."""
    outer_rows = 1.0
    for position, step in enumerate(steps):
        node = _first_table_node(step)
        if node is None:
            continue
        rows = node.rows if node.rows is not None else 1.0
        if (
            position > 0
            and _is_full_scan(node)
            and outer_rows >= NESTED_LOOP_ROWS
            and rows >= NESTED_LOOP_ROWS
        ):
            columns = walk.shape.join_columns.get(_alias_key(node, walk), ())
            walk.warnings.append(
                nested_loop(
                    node.table,
                    outer_rows,
                    columns,
                    what=f"{node.table} ({rows_text(rows)} rows) is scanned in full for each of "
                    f"{rows_text(outer_rows)} rows joined before it",
                )
            )
        outer_rows *= max(rows, 1.0)


def _is_full_scan(node: PlanNode) -> bool:
    return node.label in {_ACCESS_LABELS[a] for a in _FULL_SCANS}


def _alias_key(node: PlanNode, walk: _Walk) -> str:
    match = re.match(r"table (\S+)", node.detail)
    return match.group(1).lower() if match else (node.table or "").lower()


def _first_table_node(node: PlanNode) -> Optional[PlanNode]:
    for candidate in node.walk():
        if candidate.table:
            return candidate
    return None


def _first_table(children: list[PlanNode]) -> Optional[str]:
    for child in children:
        found = _first_table_node(child)
        if found is not None:
            return found.table
    return None


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or (
        isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value)
    )


def _scalar(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def parse_analyze_text(lines: Any, sql: str) -> ParsedPlan:
    """MySQL 8's `EXPLAIN ANALYZE` tree (`-> Filter: ... (cost=... rows=...) (actual ...)`)."""
    shape = sqltext.statement_shape(sql)
    parsed: list[tuple[int, PlanNode]] = []
    for line in lines:
        match = _ANALYZE_LINE.match(str(line))
        if not match:
            continue
        label = match.group("label")
        scan = _TABLE_SCAN.match(label)
        loops = number(match.group("loops"))
        per_loop = number(match.group("time"))
        parsed.append(
            (
                len(match.group("indent")),
                PlanNode(
                    label=label.split(":")[0] if ":" in label else label,
                    detail=label,
                    cost=number(match.group("cost")),
                    rows=number(match.group("rows")),
                    actual_rows=number(match.group("actual")),
                    actual_time_ms=per_loop * (loops or 1.0) if per_loop is not None else None,
                    table=shape.table(scan.group("table")) if scan else None,
                    loops=loops,
                ),
            )
        )
    if not parsed:
        return ParsedPlan(None, note="no plan lines recognised")
    warnings: list[PlanWarning] = []
    root = _text_tree(parsed, 0, shape, warnings)[0]
    return ParsedPlan(root, tuple(warnings))


def _text_tree(
    parsed: list[tuple[int, PlanNode]], start: int, shape: sqltext.StatementShape, warnings: list[PlanWarning]
) -> tuple[PlanNode, int]:
    indent, node = parsed[start]
    children: list[PlanNode] = []
    position = start + 1
    while position < len(parsed) and parsed[position][0] > indent:
        child, position = _text_tree(parsed, position, shape, warnings)
        children.append(child)
    if node.label == "Filter":
        for child in children:
            if child.detail.startswith("Table scan on "):
                key = child.detail.split()[3].lower()
                columns = sqltext.columns_for(
                    sqltext.expression_columns(node.detail[len("Filter: ") :]),
                    (key, child.table or key),
                    bare=len(set(shape.tables.values())) == 1,
                )
                read = (
                    child.actual_rows * (child.loops or 1.0) if child.actual_rows is not None else child.rows
                )
                warning = seq_scan(child.table or key, columns, read, how="table scan")
                if warning is not None:
                    warnings.append(warning)
    if node.actual_rows is not None:
        mismatch = row_mismatch(node)
        if mismatch is not None:
            warnings.append(mismatch)
    return replace(node, children=tuple(children)), position
