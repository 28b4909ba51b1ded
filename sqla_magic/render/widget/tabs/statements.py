"""The Statements tab: statement shapes, sortable and paged, and each shape's executions, paged."""

from __future__ import annotations

from typing import Any

from sqla_magic.model import Report, Statement, statement_rows
from sqla_magic.render.markup import escape, more, sql_block, table
from sqla_magic.render.summary import (
    StatementGroup,
    format_cache,
    format_count,
    format_duration,
    format_lines,
    format_ms,
    group_requests,
    group_statements,
    one_line_sql,
    params_text,
    plural,
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
from sqla_magic.sqltext import break_clauses, format_sql, sql_tokens


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


def executions(
    view: ReportView, group_id: int, page: int, size: int = PAGE_SIZE, reindent: bool = True
) -> dict[str, Any]:
    """A page of `size` executions of one group; `reindent=False` only breaks the SQL's
    clauses (sqlparse takes milliseconds per statement)."""
    group = all_groups(view)[group_id]
    pages = max((group.count + size - 1) // size, 1)
    page = min(max(page, 0), pages - 1)
    indexes = group.indexes[page * size : (page + 1) * size]
    statements = view.report.statements
    return {
        "group": group_id,
        "page": page,
        "pages": pages,
        "count": group.count,
        "sql_tokens": sql_tokens(format_sql(group.sql) if reindent else break_clauses(group.sql)),
        "fingerprint": group.fingerprint,
        "rows": [execution_row(i, statements[i]) for i in indexes],
    }


STATIC_EXECUTION_ROWS = 1_000
"""Executions listed in the static report, all groups together..."""
STATIC_MIN_EXECUTIONS = 5
"""...each group still listing at least this many."""
STATIC_REINDENTED = 30
"""Groups whose SQL sqlparse lays out in the static report; the rest get line breaks."""

GROUP_HEADERS = ("count", "total ms", "mean ms", "max ms", "rows", "cache", "lines", "origin", "SQL")
EXECUTION_HEADERS = ("#", "ms", "rows", "cache", "line", "origin", "thread", "parameters")


def static(view: ReportView) -> str:
    """The first page of groups, slowest first, each with its first executions."""
    report = view.report
    if not report.statements:
        return "<h3>SQL statements</h3><p>No SQL statements.</p>"
    data = clean(groups(view, "total", 0))
    left = STATIC_EXECUTION_ROWS
    rows = []
    for position, row in enumerate(data["rows"]):
        size = max(min(PAGE_SIZE, left), STATIC_MIN_EXECUTIONS)
        left -= size
        detail = clean(executions(view, row["id"], 0, size, reindent=position < STATIC_REINDENTED))
        rows.append(_static_group(view, row, detail))
    parts = [
        f"<h3>SQL statements: {escape(data['executions'])} executions, {escape(data['shapes'])} shapes</h3>",
        table(GROUP_HEADERS, rows, (True, True, True, True, True)),
    ]
    if data["requests"]:
        request_rows = [
            [f"<code>{escape(r['request'])}</code>"]
            + [escape(r[k]) for k in ("statements", "total", "rows", "shapes", "repeated")]
            for r in data["requests"]
        ]
        every = group_requests(report)
        served = sum(len(group.indexes) for group in every)
        parts.append(
            f"<h3>Requests: {plural(len(every), 'test-client request')}, "
            f"{format_count(served)} of {format_count(len(report.statements))} statements</h3>"
            + table(
                ("request", "statements", "total ms", "rows", "shapes", "repeats"),
                request_rows,
                (False,) + (True,) * 5,
            )
        )
    shown = {row["id"] for row in data["rows"]}
    hidden = [group for g, group in enumerate(all_groups(view)) if g not in shown]
    if hidden:
        parts.append(
            more(
                f"{format_count(len(hidden))} more shapes not shown "
                f"({format_count(sum(g.count for g in hidden))} executions, "
                f"{format_duration(sum(g.total_s for g in hidden))})."
            )
        )
    return "\n".join(parts)


def _static_group(view: ReportView, row: dict[str, Any], detail: dict[str, Any]) -> list[str]:
    statements = view.report.statements
    listed = [
        [
            f"#{e['number']}",
            escape(e["ms"]),
            escape(e["rows"]),
            escape(e["cache"]),
            escape(e["line"]),
            escape(e["origin"]),
            escape(clean(statements[e["index"]].thread)),
            f"<code>{escape(e['params'])}</code>"
            + (escape(f" ({e['sets']} sets)") if e["sets"] else "")
            + (f'<div class="sm-error">{escape(e["error"])}</div>' if e["error"] else ""),
        ]
        for e in detail["rows"]
    ]
    left = detail["count"] - len(listed)
    failed = f' <span class="sm-tag">{row["errors"]} failed</span>' if row["errors"] else ""
    sql = (
        f"<details><summary><code>{escape(row['sql'])}</code>{failed}</summary>"
        + sql_block(detail["sql_tokens"])
        + table(EXECUTION_HEADERS, listed, (False, True, True))
        + (more(plural(left, "more execution")) if left > 0 else "")
        + "</details>"
    )
    return [
        escape(row[key]) for key in ("count", "total", "mean", "max", "rows", "cache", "lines", "origin")
    ] + [sql]


TAB = Tab(
    name="statements",
    title="Statements",
    count=lambda view: format_count(len({s.fingerprint for s in view.report.statements})),
    requests={
        "groups": lambda view, args: clean(
            groups(view, str(args.get("sort", "total")), int(args.get("page", 0)))
        ),
        "executions": lambda view, args: clean(
            executions(view, int(args["group"]), int(args.get("page", 0)))
        ),
    },
    static=static,
)
