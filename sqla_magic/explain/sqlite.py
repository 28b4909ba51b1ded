"""SQLite: `EXPLAIN QUERY PLAN`, rows of (id, parent, notused, detail) made into a tree.

SQLite names a scanned table by its alias where there is one ("SCAN u", older versions
"SCAN TABLE users AS u") and never says what a scan filters on, so the filter columns
come from the statement's own WHERE clause (and JOIN ... ON for the inner side of a join).
`EXPLAIN QUERY PLAN` never runs the statement, so it is safe on the user's own connection.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Optional

from sqla_magic.explain import sql as sqltext
from sqla_magic.explain.dialect import DialectExplainer
from sqla_magic.explain.plan import MIN_SCAN_ROWS, ParsedPlan, seq_scan
from sqla_magic.model import PlanNode, PlanWarning

_ACCESS = re.compile(
    r"^(?P<verb>SCAN|SEARCH)\s+(?:TABLE\s+)?(?P<name>\"[^\"]+\"|\S+)(?:\s+AS\s+(?P<alias>\"[^\"]+\"|\S+))?"
    r"(?P<rest>.*)$"
)
_INDEX = re.compile(r"USING\s+(?:AUTOMATIC\s+)?(?:PARTIAL\s+)?(?:COVERING\s+)?INDEX\s+(\S+)")
_PRIMARY_KEY = re.compile(r"USING\s+(INTEGER\s+PRIMARY\s+KEY|PRIMARY\s+KEY)")
_TEMP_BTREE = re.compile(r"TEMP B-TREE(?: FOR (?P<purpose>.+))?$")
_DERIVED = re.compile(r"^(?:MATERIALIZE|CO-ROUTINE)\s+(\S+)")
_NOT_TABLES = ("CONSTANT", "SUBQUERY")
BUSY_TIMEOUT_MS = 200


class SQLiteExplainer(DialectExplainer):
    def explain_sql(self, sql: str, *, analyze: bool) -> str:
        return f"EXPLAIN QUERY PLAN {sql}"

    @property
    def transaction_isolation(self) -> Optional[str]:
        return "SERIALIZABLE"

    @property
    def needs_transaction(self) -> bool:
        return False  # EXPLAIN QUERY PLAN never runs the statement (and pysqlite opens none for it)

    def prepare_session(self, conn: Any) -> None:
        # A file locked by the user's own uncommitted write would make every EXPLAIN wait
        # the driver's busy timeout (5 s by default): wait a little, then say so.
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def locked_note(self, note: Optional[str]) -> Optional[str]:
        if note and "database is locked" in note:
            return (
                "not explained: the database file is locked, most likely by a write of yours "
                "not yet committed (SQLite lets no other connection read meanwhile); commit, "
                "then profile again"
            )
        return None

    def analyze_refusal(self, kind: str) -> Optional[str]:
        return "SQLite has no EXPLAIN ANALYZE; the plan shows estimates only"

    def read(self, rows: list[tuple[Any, ...]]) -> Any:
        return tuple((int(r[0]), int(r[1]), int(r[2]), str(r[3])) for r in rows)

    def table_sizes(self, conn: Any, raw: Any) -> dict[str, float]:
        """Rows of the tables scanned in full that hold fewer than `MIN_SCAN_ROWS` (SQLite's
        plan has no estimates): counted up to that bound, so a large table costs no more.
        `conn` is a SQLAlchemy connection or, for a shared in-memory database, the DBAPI one."""
        sizes: dict[str, float] = {}
        for *_, detail in raw:
            match = _ACCESS.match(str(detail))
            if match is None or match.group("verb") != "SCAN":
                continue
            name = match.group("name").strip('"')
            if name.upper() in _NOT_TABLES or name in sizes:
                continue
            quoted = '"' + name.replace('"', '""') + '"'
            count = f"SELECT count(*) FROM (SELECT 1 FROM {quoted} LIMIT {MIN_SCAN_ROWS})"
            try:
                if hasattr(conn, "exec_driver_sql"):
                    rows = conn.exec_driver_sql(count).scalar()
                else:
                    cursor = conn.cursor()
                    try:
                        rows = cursor.execute(count).fetchone()[0]
                    finally:
                        cursor.close()
            except Exception:  # a view, a virtual or a temporary table: the size stays unknown
                continue
            if isinstance(rows, int) and rows < MIN_SCAN_ROWS:
                sizes[name] = float(rows)
        return sizes

    def parse(
        self, raw: Any, sql: str, *, analyzed: bool, sizes: Optional[dict[str, float]] = None
    ) -> ParsedPlan:
        return parse_query_plan(raw, sql, sizes)


def parse_query_plan(rows: Any, sql: str, sizes: Optional[dict[str, float]] = None) -> ParsedPlan:
    """The tree and warnings of `EXPLAIN QUERY PLAN` rows (id, parent, notused, detail);
    `sizes`: rows of tables known to be small (see `SQLiteExplainer.table_sizes`)."""
    if not rows:
        return ParsedPlan(None, note="SQLite reported no plan steps (the statement reads no table)")
    shape = sqltext.statement_shape(sql)
    derived = {m.group(1).strip('"').lower() for *_, detail in rows if (m := _DERIVED.match(detail))}
    children: dict[int, list[tuple[int, str]]] = {}
    for node_id, parent, _, detail in rows:
        children.setdefault(int(parent), []).append((int(node_id), str(detail)))
    warnings: list[PlanWarning] = []

    def build(node_id: int, detail: str, join_position: int) -> PlanNode:
        node = replace(_node(detail, shape, derived), children=tuple(_build_level(node_id)))
        warnings.extend(_warnings(node, detail, shape, join_position, sizes or {}))
        return node

    def _build_level(parent: int) -> list[PlanNode]:
        built = []
        position = 0
        for node_id, detail in sorted(children.get(parent, [])):
            is_access = bool(_ACCESS.match(detail))
            built.append(build(node_id, detail, position if is_access else -1))
            if is_access:
                position += 1
        return built

    root = PlanNode(label="QUERY PLAN", children=tuple(_build_level(0)))
    return ParsedPlan(root, tuple(warnings))


def _node(detail: str, shape: sqltext.StatementShape, derived: set[str]) -> PlanNode:
    match = _ACCESS.match(detail)
    if not match:
        return PlanNode(label=detail, detail=detail)
    name = match.group("name").strip('"')
    alias = (match.group("alias") or "").strip('"')
    key = (alias or name).lower()
    if name.upper() in _NOT_TABLES or key in derived:
        return PlanNode(label=match.group("verb"), detail=detail)
    table = name if alias else shape.table(name)
    index_match = _INDEX.search(detail) or _PRIMARY_KEY.search(detail)
    index = re.sub(r"\s+", " ", index_match.group(1)) if index_match else None
    columns: tuple[str, ...] = ()
    if match.group("verb") == "SCAN":
        columns = shape.where_columns.get(key, ())
    return PlanNode(
        label=match.group("verb"),
        detail=detail,
        table=table,
        index=index,
        filter_columns=columns,
    )


def _warnings(
    node: PlanNode, detail: str, shape: sqltext.StatementShape, join_position: int, sizes: dict[str, float]
) -> list[PlanWarning]:
    found: list[PlanWarning] = []
    temp = _TEMP_BTREE.search(detail)
    if temp:
        purpose = temp.group("purpose") or "a UNION"
        found.append(
            PlanWarning(
                kind="temp-btree",
                message=f"SQLite builds a temporary B-tree for {purpose}; "
                "an index matching those columns may let it read rows in order",
            )
        )
    if node.label != "SCAN" or node.table is None:
        return found
    if node.filter_columns:
        rows = sizes.get(node.table)
        if rows is None:
            match = _ACCESS.match(detail)
            rows = sizes.get(match.group("name").strip('"')) if match else None
        warning = seq_scan(node.table, node.filter_columns, rows)
        if warning is not None:
            found.append(warning)
    if join_position > 0:
        key = _key_of(detail)
        columns = tuple(dict.fromkeys((*shape.join_columns.get(key, ()), *node.filter_columns)))
        found.append(
            PlanWarning(
                kind="nested-loop",
                message=f"SQLite scans {node.table} in full for every row of the tables joined before it"
                + (f"; an index on {', '.join(columns)} may avoid it" if columns else ""),
                table=node.table,
                columns=columns,
            )
        )
    return found


def _key_of(detail: str) -> str:
    match = _ACCESS.match(detail)
    if not match:
        return ""
    return (match.group("alias") or match.group("name")).strip('"').lower()
