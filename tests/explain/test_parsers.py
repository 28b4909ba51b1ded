"""Plan parsers fed with outputs captured from real databases (see outputs/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sqla_magic.explain.mysql import parse_analyze_text
from sqla_magic.explain.mysql import parse_json_plan as parse_mysql
from sqla_magic.explain.plan import frozen
from sqla_magic.explain.postgresql import parse_json_plan as parse_pg
from sqla_magic.explain.sqlite import parse_query_plan
from sqla_magic.model import Plan, PlanWarning, Report

OUTPUTS = Path(__file__).parent / "outputs"


def load(name: str) -> dict[str, Any]:
    case: dict[str, Any] = json.loads((OUTPUTS / f"{name}.json").read_text())
    return case


def kinds(warnings: tuple[PlanWarning, ...]) -> list[str]:
    return [w.kind for w in warnings]


def only(warnings: tuple[PlanWarning, ...], kind: str) -> PlanWarning:
    found = [w for w in warnings if w.kind == kind]
    assert len(found) == 1, warnings
    return found[0]


# -- PostgreSQL --------------------------------------------------------------------------


def test_pg_seq_scan_names_table_columns_and_size() -> None:
    case = load("pg_seq_scan")
    parsed = parse_pg(frozen(case["output"]), {"probe_u": 50_000.0})
    assert parsed.root is not None
    assert parsed.root.label == "Seq Scan"
    assert parsed.root.table == "probe_u"
    assert parsed.root.filter_columns == ("name",)
    assert parsed.root.cost is not None and parsed.root.rows == 1
    warning = only(parsed.warnings, "seq-scan")
    assert (warning.table, warning.columns, warning.rows) == ("probe_u", ("name",), 50_000.0)


def test_pg_analyze_gives_actuals_and_flags_the_spilled_sort() -> None:
    parsed = parse_pg(frozen(load("pg_join_sort_analyze")["output"]))
    assert parsed.root is not None and parsed.root.label == "Sort"
    assert parsed.root.actual_rows is not None and parsed.root.actual_time_ms is not None
    assert parsed.root.loops == 1
    assert "filesort" in kinds(parsed.warnings)
    scans = [n for n in parsed.root.walk() if n.label == "Seq Scan"]
    assert {n.table for n in scans} == {"probe_u", "probe_o"}
    # Filter "(age > 3)" belongs to the aliased relation u = probe_u.
    (filtered,) = [n for n in scans if n.filter_columns]
    assert (filtered.table, filtered.filter_columns) == ("probe_u", ("age",))
    seq = only(parsed.warnings, "seq-scan")
    assert seq.rows == 50_000  # actual rows plus rows removed by the filter


def test_pg_row_mismatch_from_correlated_columns() -> None:
    parsed = parse_pg(frozen(load("pg_mismatch_analyze")["output"]))
    mismatch = only(parsed.warnings, "row-mismatch")
    assert mismatch.table == "probe_u"
    assert mismatch.rows == 0
    assert set(only(parsed.warnings, "seq-scan").columns) == {"age", "age2"}


def test_pg_nested_loop_over_a_full_scan() -> None:
    parsed = parse_pg(frozen(load("pg_nested_loop")["output"]))
    assert parsed.root is not None and parsed.root.label == "Nested Loop"
    loop = only(parsed.warnings, "nested-loop")
    # The outer side is probe_o; probe_u (materialized) is scanned for each of its rows.
    assert loop.table == "probe_u"
    assert set(loop.columns) == {"name", "age2"}
    assert loop.rows == 50_000


def test_pg_empty_output_is_a_note() -> None:
    parsed = parse_pg(())
    assert parsed.root is None and parsed.note


# -- MariaDB ------------------------------------------------------------------------------


def test_mariadb_full_scan_with_attached_condition() -> None:
    case = load("mariadb_seq_scan")
    parsed = parse_mysql(json.loads(case["output"]), case["sql"])
    warning = only(parsed.warnings, "seq-scan")
    assert (warning.table, warning.columns, warning.rows) == ("probe_u", ("name",), 50507)
    tables = [n for n in parsed.root.walk() if n.table] if parsed.root else []
    assert tables[0].label == "Full Table Scan"


def test_mariadb_analyze_join_resolves_aliases_and_flags_filesort() -> None:
    case = load("mariadb_join_filesort_analyze")
    parsed = parse_mysql(json.loads(case["output"]), case["sql"])
    assert parsed.root is not None
    tables = {n.table: n for n in parsed.root.walk() if n.table}
    assert set(tables) == {"probe_u", "probe_o"}  # aliases u and o resolved from the statement
    assert tables["probe_o"].actual_rows == 50_000 and tables["probe_o"].loops == 1
    assert tables["probe_u"].loops == 50_000
    assert tables["probe_u"].index == "PRIMARY"
    filesort = only(parsed.warnings, "filesort")
    assert "o.amount" in filesort.message
    # "o.user_id is not null" is implied by the join, not a filter worth an index.
    assert "seq-scan" not in kinds(parsed.warnings)


def test_mariadb_group_by_uses_temporary_table_and_filesort() -> None:
    case = load("mariadb_group_by")
    parsed = parse_mysql(json.loads(case["output"]), case["sql"])
    assert {"filesort", "temp-table"} <= set(kinds(parsed.warnings))
    assert "seq-scan" not in kinds(parsed.warnings)  # a full scan without a filter is not flagged


def test_mariadb_block_nested_loop() -> None:
    case = load("mariadb_block_nested_loop")
    parsed = parse_mysql(json.loads(case["output"]), case["sql"])
    loop = only(parsed.warnings, "nested-loop")
    assert loop.table == "probe_o"
    assert loop.columns == ("amount",)


def test_mariadb_delete_plan() -> None:
    case = load("mariadb_delete")
    parsed = parse_mysql(json.loads(case["output"]), case["sql"])
    warning = only(parsed.warnings, "seq-scan")
    assert (warning.table, warning.columns) == ("probe_u", ("age",))


def test_mysql8_explain_analyze_text() -> None:
    lines = (
        "-> Filter: (people.age = 3)  (cost=5047 rows=4990) (actual time=0.0629..21.5 rows=556 loops=1)",
        "    -> Table scan on people  (cost=5047 rows=49900) (actual time=0.0593..17.2 rows=50000 loops=1)",
    )
    parsed = parse_analyze_text(lines, "SELECT * FROM people WHERE people.age = %s")
    assert parsed.root is not None and parsed.root.label == "Filter"
    assert parsed.root.children[0].table == "people"
    warning = only(parsed.warnings, "seq-scan")
    assert (warning.columns, warning.rows) == (("age",), 50_000)


# -- SQLite --------------------------------------------------------------------------------


def test_sqlite_scan_of_an_alias_gets_the_table_and_where_columns() -> None:
    case = load("sqlite_scan_alias")
    parsed = parse_query_plan(frozen(case["output"]), case["sql"])
    warning = only(parsed.warnings, "seq-scan")
    assert (warning.table, warning.columns, warning.rows) == ("users", ("name",), None)


def test_sqlite_temp_btrees_and_tree_shape() -> None:
    case = load("sqlite_join_temp_btree")
    parsed = parse_query_plan(frozen(case["output"]), case["sql"])
    assert kinds(parsed.warnings).count("temp-btree") == 2
    assert parsed.root is not None
    searches = [n for n in parsed.root.walk() if n.label == "SEARCH"]
    assert {(n.table, n.index) for n in searches} == {
        ("orders", "ix_orders_amount"),
        ("users", "INTEGER PRIMARY KEY"),
    }


def test_sqlite_subquery_nesting_follows_parent_ids() -> None:
    case = load("sqlite_subquery")
    parsed = parse_query_plan(frozen(case["output"]), case["sql"])
    assert parsed.root is not None
    (subquery,) = [n for n in parsed.root.children if n.label.startswith("LIST SUBQUERY")]
    assert [c.table for c in subquery.children] == ["orders"]
    assert parsed.warnings == ()


def test_sqlite_old_format_and_nested_full_scan() -> None:
    rows = ((3, 0, 0, "SCAN TABLE users AS u"), (8, 0, 0, "SCAN TABLE orders AS o"))
    sql = "SELECT * FROM users AS u JOIN orders AS o ON o.user_id = u.age WHERE u.name = ?"
    parsed = parse_query_plan(rows, sql)
    assert only(parsed.warnings, "seq-scan").table == "users"
    loop = only(parsed.warnings, "nested-loop")
    assert (loop.table, loop.columns) == ("orders", ("user_id",))


def test_sqlite_no_rows_is_a_note() -> None:
    parsed = parse_query_plan((), "INSERT INTO users (name) VALUES (?)")
    assert parsed.root is None and parsed.note


@pytest.mark.parametrize("name", sorted(p.stem for p in OUTPUTS.glob("*.json")))
def test_plans_survive_the_report_json_round_trip(name: str) -> None:
    case = load(name)
    output = case["output"]
    if name.startswith("pg_"):
        raw = frozen(output)
        parsed = parse_pg(raw)
    elif name.startswith("mariadb_"):
        raw = frozen(json.loads(output))
        parsed = parse_mysql(raw, case["sql"])
    else:
        raw = frozen(output)
        parsed = parse_query_plan(raw, case["sql"])
    plan = Plan("f", name.split("_")[0], False, parsed.root, parsed.warnings, 0, case["sql"], None, raw)
    report = Report(wall_s=1.0, cpu_s=1.0, plans=(plan,))
    assert Report.from_json(report.to_json()) == report
