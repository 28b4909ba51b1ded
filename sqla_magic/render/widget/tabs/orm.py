"""The ORM cost tab: where turning rows into objects took time."""

from __future__ import annotations

from typing import Any, Optional

from sqla_magic import _compat
from sqla_magic.model import CallNode, Report, statement_rows
from sqla_magic.render.markup import escape, table
from sqla_magic.render.summary import (
    format_count,
    format_duration,
)
from sqla_magic.render.view_model import (
    ReportView,
    clean,
)
from sqla_magic.render.widget.tabs.tab import Tab

ORM_LOAD_FUNCTIONS = _compat.ORM_ROW_FUNCTIONS


def orm_cost(report: Report) -> dict[str, Any]:
    """Where turning rows into objects cost time: per class, per loader function, per relationship."""
    orm_s = float(report.layers.get("orm_load", 0.0))
    objects = report.objects
    classes = [
        {
            "name": name,
            "objects": format_count(count),
            "share": f"{count / objects * 100:.1f}%" if objects else "",
            "estimate": format_duration(orm_s * count / objects) if objects else "",
        }
        for name, count in sorted(report.objects_loaded.items(), key=lambda item: -item[1])
    ]
    functions = _loader_functions(report.call_tree) if report.call_tree is not None else []
    relationships: dict[str, list[float]] = {}
    for statement in report.statements:
        if statement.origin.startswith(("lazy load ", "eager load ", "refresh ")):
            entry = relationships.setdefault(statement.origin, [0, 0.0, 0])
            entry[0] += 1
            entry[1] += statement.duration_s
            entry[2] += statement_rows(statement)
    return {
        "orm_load": format_duration(orm_s),
        "mapper_config": format_duration(float(report.layers.get("mapper_config", 0.0))),
        "objects": format_count(objects),
        "per_object": format_duration(orm_s / objects) if objects else "",
        "classes": classes,
        "class_note": (
            "Time per class is the ORM-loading time shared out by objects loaded: "
            "the profiler measures loading for all classes together."
        ),
        "functions": functions,
        "relationships": [
            {
                "origin": origin,
                "statements": format_count(int(count)),
                "total": format_duration(seconds),
                "rows": format_count(int(rows)),
            }
            for origin, (count, seconds, rows) in sorted(relationships.items(), key=lambda item: -item[1][1])
        ],
    }


def _loader_function(node: CallNode) -> Optional[str]:
    file = node.file.replace("\\", "/")
    for suffix, names in ORM_LOAD_FUNCTIONS.items():
        if file.endswith(suffix) and node.name in names:
            return f"{suffix.split('/')[-1]}:{node.name}"
    return None


def _loader_functions(root: CallNode) -> list[dict[str, Any]]:
    """Calls, own time and total time of each loader function over the whole tree.

    Total time counts only outermost occurrences: `_instance` nests inside itself for
    eager loads, and adding the nested totals would count the same time twice.
    """
    totals: dict[str, list[float]] = {}
    stack: list[tuple[CallNode, frozenset[str]]] = [(root, frozenset())]
    while stack:
        node, open_keys = stack.pop()
        key = _loader_function(node)
        if key is not None:
            entry = totals.setdefault(key, [0, 0.0, 0.0])
            entry[0] += node.calls
            entry[1] += node.self_s
            if key not in open_keys:
                entry[2] += node.total_s
                open_keys = open_keys | {key}
        stack.extend((child, open_keys) for child in node.children)
    return [
        {
            "function": key,
            "calls": format_count(int(calls)),
            "self": format_duration(own),
            "total": format_duration(total),
        }
        for key, (calls, own, total) in sorted(totals.items(), key=lambda item: -item[1][2])
    ]


def static(view: ReportView) -> str:
    data = clean(orm_cost(view.report))
    if not (data["classes"] or data["functions"] or data["relationships"]):
        return ""
    figures = [(data["orm_load"], "ORM loading"), (data["objects"], "objects loaded")]
    if data["per_object"]:
        figures.append((data["per_object"], "per object"))
    figures.append((data["mapper_config"], "mapper config"))
    parts = [
        "<h3>ORM cost</h3>",
        '<div class="sm-figures">'
        + "".join(f'<div class="sm-figure"><b>{escape(v)}</b>{escape(label)}</div>' for v, label in figures)
        + "</div>",
    ]
    numeric = (False, True, True, True)
    if data["classes"]:
        rows = [[escape(c[k]) for k in ("name", "objects", "share", "estimate")] for c in data["classes"]]
        parts += [
            "<h4>Objects per mapped class</h4>",
            table(("class", "objects", "share", "ORM time (est.)"), rows, numeric),
            f'<div class="sm-muted">{escape(data["class_note"])}</div>',
        ]
    if data["functions"]:
        rows = [
            [f"<code>{escape(f['function'])}</code>"] + [escape(f[k]) for k in ("calls", "self", "total")]
            for f in data["functions"]
        ]
        parts += [
            "<h4>Row-to-object work in the call tree</h4>",
            table(("function", "calls", "own time", "total time"), rows, numeric),
        ]
    if data["relationships"]:
        rows = [
            [escape(r[k]) for k in ("origin", "statements", "total", "rows")] for r in data["relationships"]
        ]
        parts += [
            "<h4>Relationship loads</h4>",
            table(("load", "statements", "database time", "rows"), rows, numeric),
        ]
    return "\n".join(parts)


TAB = Tab(
    name="orm",
    title="ORM cost",
    count=lambda view: format_count(view.report.objects),
    requests={"orm": lambda view, args: clean(orm_cost(view.report))},
    static=static,
)
