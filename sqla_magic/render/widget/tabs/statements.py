"""The Statements tab: statement shapes, sortable and paged, and each shape's executions, paged."""

from __future__ import annotations

from typing import Any

from sqla_magic.model import Report, Statement, statement_rows
from sqla_magic.render.summary import (
    StatementGroup,
    format_cache,
    format_count,
    format_lines,
    format_ms,
    group_requests,
    group_statements,
    one_line_sql,
    params_text,
    shorten,
)
from sqla_magic.render.view_model import (
    MAX_PARAMS_TEXT,
    PAGE_SIZE,
    SORT_KEYS,
    ReportView,
    clean,
)
from sqla_magic.render.widget.tabs.tab import Tab
from sqla_magic.sqltext import format_sql, sql_tokens


def _sort_value(group: StatementGroup, key: str) -> float:
    if key == "count":
        return group.count
    if key == "mean":
        return group.mean_s
    if key == "max":
        return group.max_s
    if key == "rows":
        return group.rows
    if key == "first":
        return -group.indexes[0]
    return group.total_s


def group_row(report: Report, group: StatementGroup, group_id: int) -> dict[str, Any]:
    return {
        "id": group_id,
        "count": format_count(group.count),
        "total": format_ms(group.total_s),
        "mean": format_ms(group.mean_s),
        "max": format_ms(group.max_s),
        "rows": format_count(group.rows),
        "cache": format_cache(group.cache),
        "lines": format_lines(group.lines),
        "origin": shorten(", ".join(group.origins), 80),
        "sql": one_line_sql(group.sql, 140),
        "errors": group.errors,
        "repeated": group.count > 1,
    }


def execution_row(index: int, statement: Statement) -> dict[str, Any]:
    return {
        "index": index,
        "number": index + 1,
        "ms": format_ms(statement.duration_s),
        "rows": format_count(statement_rows(statement)),
        "cache": statement.cache,
        "line": "" if statement.line is None else str(statement.line),
        "origin": statement.origin,
        "params": params_text(statement.params, MAX_PARAMS_TEXT),
        "sets": format_count(statement.param_sets) if statement.param_sets > 1 else "",
        "error": statement.error or "",
        "request": statement.request or "",
    }


def all_groups(view: ReportView) -> list[StatementGroup]:
    if view.groups is None:
        view.groups = group_statements(view.report).shown
    return view.groups


def groups(view: ReportView, sort: str, page: int) -> dict[str, Any]:
    groups = all_groups(view)
    if sort not in SORT_KEYS:
        sort = "total"
    order = view.order.get(sort)
    if order is None:
        order = view.order[sort] = sorted(
            range(len(groups)), key=lambda g: (-_sort_value(groups[g], sort), g)
        )
    pages = max((len(order) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 0), pages - 1)
    chosen = order[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    return {
        "sort": sort,
        "page": page,
        "pages": pages,
        "shapes": format_count(len(groups)),
        "executions": format_count(len(view.report.statements)),
        "rows": [group_row(view.report, groups[g], g) for g in chosen],
        "requests": requests(view.report),
    }


def requests(report: Report) -> list[dict[str, Any]]:
    """The test-client requests, in the order they ran (empty when there were none)."""
    return [
        {
            "request": shorten(group.request, 120),
            "statements": format_count(len(group.indexes)),
            "total": format_ms(group.total_s),
            "rows": format_count(group.rows),
            "shapes": format_count(group.shapes),
            "repeated": format_count(group.repeated),
        }
        for group in group_requests(report)[:PAGE_SIZE]
    ]


def executions(view: ReportView, group_id: int, page: int) -> dict[str, Any]:
    group = all_groups(view)[group_id]
    pages = max((group.count + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 0), pages - 1)
    indexes = group.indexes[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    statements = view.report.statements
    return {
        "group": group_id,
        "page": page,
        "pages": pages,
        "sql_tokens": sql_tokens(format_sql(group.sql)),
        "fingerprint": group.fingerprint,
        "rows": [execution_row(i, statements[i]) for i in indexes],
    }


TAB = Tab(
    name="statements",
    title="Statements",
    count=lambda report: format_count(len({s.fingerprint for s in report.statements})),
    requests={
        "groups": lambda view, args: clean(
            groups(view, str(args.get("sort", "total")), int(args.get("page", 0)))
        ),
        "executions": lambda view, args: clean(
            executions(view, int(args["group"]), int(args.get("page", 0)))
        ),
    },
)
