"""The EXPLAIN tab: each plan as a tree, its warnings and the nodes they are about."""

from __future__ import annotations

from typing import Any

from sqla_magic.model import Plan, PlanNode, Report
from sqla_magic.render.markup import escape, more, sql_block
from sqla_magic.render.summary import (
    format_count,
    one_line_sql,
    plan_figures,
    plural,
)
from sqla_magic.render.view_model import (
    MAX_PLAN_NODES,
    ReportView,
    clean,
)
from sqla_magic.render.widget.tabs.tab import Tab
from sqla_magic.sqltext import format_sql, sql_tokens


def plans(report: Report) -> list[dict[str, Any]]:
    return [plan_view(plan) for plan in report.plans]


def plan_view(plan: Plan) -> dict[str, Any]:
    warned_tables = {w.table for w in plan.warnings if w.table}
    nodes: list[dict[str, Any]] = []
    if plan.root is not None:
        stack: list[tuple[int, PlanNode]] = [(0, plan.root)]
        while stack and len(nodes) < MAX_PLAN_NODES:
            depth, node = stack.pop()
            nodes.append(
                {
                    "depth": depth,
                    "label": node.label,
                    "detail": _without_label(node.label, node.detail),
                    "figures": plan_figures(node),
                    "warned": bool(node.filter_columns)
                    or (node.table is not None and node.table in warned_tables),
                }
            )
            stack.extend((depth + 1, child) for child in reversed(node.children))
    return {
        "title": ("EXPLAIN ANALYZE" if plan.analyzed else "EXPLAIN")
        + (f" of statement #{plan.statement + 1}" if plan.statement is not None else ""),
        "dialect": plan.dialect,
        "sql": one_line_sql(plan.sql, 140),
        "sql_tokens": sql_tokens(format_sql(plan.sql)) if plan.sql else [],
        "note": plan.note or "",
        "warnings": [
            {"kind": w.kind, "message": w.message + (f" ({', '.join(w.columns)})" if w.columns else "")}
            for w in plan.warnings
        ],
        "nodes": nodes,
        "cut": plan.root is not None and len(nodes) >= MAX_PLAN_NODES,
    }


def _without_label(label: str, detail: str) -> str:
    """SQLite's detail repeats the operation ("SCAN customer" under "SCAN"): say it once."""
    if detail.upper().startswith(label.upper() + " "):
        return detail[len(label) + 1 :]
    return "" if detail.strip().upper() == label.strip().upper() else detail


STATIC_PLANS = 20


def static(view: ReportView) -> str:
    """Each plan as `<details>`, open where it has warnings."""
    plans = view.report.plans
    if not plans:
        return ""
    parts = ["<h3>EXPLAIN plans</h3>"]
    for plan in clean([plan_view(plan) for plan in plans[:STATIC_PLANS]]):
        warnings = plan["warnings"]
        tag = f' <span class="sm-tag">{plural(len(warnings), "warning")}</span>' if warnings else ""
        parts.append(
            f'<details class="sm-plan"{" open" if warnings else ""}><summary>'
            f"<b>{escape(plan['title'])}</b> ({escape(plan['dialect'])}){tag} "
            f"<code>{escape(plan['sql'])}</code>"
            "</summary>"
        )
        parts += [
            f'<div class="sm-warn"><b>{escape(w["kind"])}</b>: {escape(w["message"])}</div>' for w in warnings
        ]
        if plan["note"]:
            parts.append(f'<div class="sm-muted">{escape(plan["note"])}</div>')
        if plan["sql_tokens"]:
            parts.append(sql_block(plan["sql_tokens"]))
        for node in plan["nodes"]:
            detail = f' <span class="sm-muted">{escape(node["detail"])}</span>' if node["detail"] else ""
            figures = f' <span class="sm-tag">{escape(node["figures"])}</span>' if node["figures"] else ""
            parts.append(
                f'<div class="sm-plan-node{" sm-warn" if node["warned"] else ""}" '
                f'style="padding-left:{node["depth"] * 18}px">'
                f"<b>{escape(node['label'])}</b>{detail}{figures}</div>"
            )
        if plan["cut"]:
            parts.append(more("more plan nodes not shown"))
        parts.append("</details>")
    if len(plans) > STATIC_PLANS:
        parts.append(more(plural(len(plans) - STATIC_PLANS, "more plan")))
    return "".join(parts)


TAB = Tab(
    name="explain",
    title="EXPLAIN",
    count=lambda view: format_count(len(view.report.plans)),
    requests={"explain": lambda view, args: clean(plans(view.report))},
    static=static,
)
