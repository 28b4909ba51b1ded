"""The Compare tab: how this run differs from a baseline (`%%sqlprofile --compare NAME`).

The same payload shows Try it's outcome on a finding's card: a `Comparison` of the
original cell's run and the rewritten cell's run.  Shown only for a report with a
baseline; times within run-to-run noise read "no clear change".
"""

from __future__ import annotations

from typing import Any

from sqla_magic.model import Comparison
from sqla_magic.render.compare import (
    change_text,
    findings_summary,
    measure_title,
    shape_summary,
    value_text,
)
from sqla_magic.render.markup import SEVERITY_CLASSES, VERDICT_CLASSES, escape, more
from sqla_magic.render.summary import one_line_sql, plural
from sqla_magic.render.view_model import ReportView, clean
from sqla_magic.render.widget.tabs.tab import Tab

MAX_SHAPES = 20
MAX_FINDINGS = 20

FINDING_GROUPS = (("fixed", "fixed", "better"), ("new", "new", "worse"), ("kept", "still there", "same"))
"""`Comparison` field, label, verdict."""


def comparison_view(comparison: Comparison) -> dict[str, Any]:
    """Measures, statement shapes and findings of two runs, ready to lay out."""
    before, after = comparison.names
    layers = set(comparison.layers)
    shapes = comparison.shapes
    return {
        "names": [before, after],
        "measures": [
            {
                "name": change.name,
                "title": measure_title(change),
                "layer": change in layers,
                "before": value_text(change, change.before),
                "after": value_text(change, change.after),
                "change": change_text(change),
                "verdict": change.verdict,
            }
            for change in comparison.changes()
        ],
        "shapes_summary": shape_summary(comparison),
        "shapes": [
            {
                "status": shape.status,
                "before": f"{shape.before:,}",
                "after": f"{shape.after:,}",
                # An added shape is often the one query that replaced a removed hundred: no verdict.
                "verdict": ""
                if shape.status != "changed"
                else "better"
                if shape.after < shape.before
                else "worse",
                "sql": one_line_sql(shape.sql, 120),
                "origin": shape.origin,
            }
            for shape in shapes[:MAX_SHAPES]
        ],
        "more_shapes": max(len(shapes) - MAX_SHAPES, 0),
        "findings_summary": findings_summary(comparison),
        "findings": [
            {
                "status": label,
                "verdict": verdict,
                "severity": finding.severity,
                "rule": finding.rule,
                "title": finding.title,
            }
            for name, label, verdict in FINDING_GROUPS
            for finding in getattr(comparison, name)[:MAX_FINDINGS]
        ],
    }


def comparison_html(data: dict[str, Any]) -> str:
    """A `comparison_view` payload as HTML: the measures table, changed shapes, findings."""
    before, after = (escape(name) for name in data["names"])
    rows = [f'<tr><th></th><th class="n">{before}</th><th class="n">{after}</th><th>change</th></tr>']
    for m in data["measures"]:
        indent = "&nbsp;&nbsp;" if m["layer"] else ""
        rows.append(
            f"<tr><td>{indent}{escape(m['title'])}</td>"
            f'<td class="n">{escape(m["before"])}</td><td class="n">{escape(m["after"])}</td>'
            f'<td class="{VERDICT_CLASSES.get(m["verdict"], "")}">{escape(m["change"])}</td></tr>'
        )
    parts = [
        f"<table>{''.join(rows)}</table>",
        f"<h4>Statement shapes: {escape(data['shapes_summary'])}</h4>",
    ]
    if data["shapes"]:
        shape_rows = [
            f'<tr><th></th><th class="n">{before}</th><th class="n">{after}</th>'
            "<th>SQL</th><th>origin</th></tr>"
        ]
        shape_rows += [
            f'<tr><td class="{VERDICT_CLASSES.get(s["verdict"], "")}">{escape(s["status"])}</td>'
            f'<td class="n">{escape(s["before"])}</td><td class="n">{escape(s["after"])}</td>'
            f"<td><code>{escape(s['sql'])}</code></td><td>{escape(s['origin'])}</td></tr>"
            for s in data["shapes"]
        ]
        parts.append(f"<table>{''.join(shape_rows)}</table>")
    if data["more_shapes"]:
        parts.append(more(plural(data["more_shapes"], "more shape")))
    parts.append(f"<h4>Findings: {escape(data['findings_summary'])}</h4>")
    parts += [
        f'<div class="sm-card {SEVERITY_CLASSES.get(f["severity"], "")}">'
        f'<span class="{VERDICT_CLASSES.get(f["verdict"], "")}">{escape(f["status"])}</span> '
        f"<b>{escape(f['rule'])}</b>: {escape(f['title'])}</div>"
        for f in data["findings"]
    ]
    return "\n".join(parts)


def static(view: ReportView) -> str:
    if view.comparison is None:
        return ""
    data = clean(comparison_view(view.comparison))
    before, after = (escape(name) for name in data["names"])
    return f"<h3>Comparison: {before} → {after}</h3>\n{comparison_html(data)}"


def _count(view: ReportView) -> str:
    comparison = view.comparison
    if comparison is None:
        return ""
    statements = comparison.measure("statements")
    return f"{value_text(statements, statements.before)} → {value_text(statements, statements.after)}"


TAB = Tab(
    name="compare",
    title="Compare",
    count=_count,
    requests={
        "compare": lambda view, args: clean(comparison_view(view.comparison)) if view.comparison else None
    },
    static=static,
    shown=lambda view: view.comparison is not None,
)
