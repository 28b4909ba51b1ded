"""The Call tree tab: the root with the hot path open; other branches a page of children at a time."""

from __future__ import annotations

from typing import Any

from sqla_magic.model import CallNode
from sqla_magic.render.summary import (
    format_count,
    format_duration,
    format_ms,
    node_place,
)
from sqla_magic.render.view_model import (
    CHILDREN_PAGE,
    HOT_SHARE,
    ReportView,
    clean,
)
from sqla_magic.render.widget.tabs.tab import Tab


def node_row(node: CallNode, node_id: int, scale: float) -> dict[str, Any]:
    return {
        "id": node_id,
        "name": node.name,
        "place": node_place(node),
        "file": node.file,
        "total": format_ms(node.total_s),
        "self": format_ms(node.self_s),
        "calls": format_count(node.calls),
        "share": round(min(max(node.total_s / scale, 0.0), 1.0), 4) if scale > 0 else 0.0,
        "kind": node.kind,
        "layer": node.layer,
        "children": len(node.children),
    }


def _register(view: ReportView, node: CallNode) -> int:
    view.nodes.append(node)
    return len(view.nodes) - 1


def tree(view: ReportView) -> dict[str, Any]:
    """The root with the hot path open: each open node carries its first children."""
    root = view.report.call_tree
    if root is None:
        return {"root": None}
    scale = time_scale(view)
    root_row = node_row(root, _register(view, root), scale)
    row, node = root_row, root
    while node.children:
        page = children_rows(view, node, 0, scale)
        row["open"] = page
        hottest = max(node.children, key=lambda child: child.total_s)
        if hottest.total_s / scale < HOT_SHARE and hottest.kind != "cell":
            break
        position = next(i for i, child in enumerate(node.children) if child is hottest)
        if position >= len(page["rows"]):
            break
        row, node = page["rows"][position], hottest
        row["hot"] = True
    root_row["hot"] = True
    return {"root": root_row, "nodes": len(view.nodes)}


def time_scale(view: ReportView) -> float:
    """The time a share of 100% stands for (the root's own total can be 0 for cell frames)."""
    root = view.report.call_tree
    return max(root.total_s if root is not None else 0.0, view.report.wall_s, 1e-9)


def children(view: ReportView, node_id: int, offset: int) -> dict[str, Any]:
    return children_rows(view, view.nodes[node_id], offset, time_scale(view))


def children_rows(view: ReportView, node: CallNode, offset: int, scale: float) -> dict[str, Any]:
    shown = node.children[offset : offset + CHILDREN_PAGE]
    rest = node.children[offset + CHILDREN_PAGE :]
    return {
        "offset": offset,
        "rows": [node_row(child, _register(view, child), scale) for child in shown],
        "more": len(rest),
        "more_time": format_duration(sum(child.total_s for child in rest)) if rest else "",
    }


TAB = Tab(
    name="tree",
    title="Call tree",
    count=lambda report: "" if report.call_tree is not None else "none",
    requests={
        "tree": lambda view, args: clean(tree(view)),
        "children": lambda view, args: clean(children(view, int(args["node"]), int(args.get("offset", 0)))),
    },
)
