"""The Call tree tab: the root with the hot path open; other branches a page of children at a time."""

from __future__ import annotations

from typing import Any

from sqla_magic.model import CallNode
from sqla_magic.render.markup import escape, more
from sqla_magic.render.summary import (
    format_count,
    format_duration,
    format_ms,
    hot_nodes,
    node_place,
    plural,
    tree_size,
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


STATIC_NODES = 2_000
"""Call-tree nodes in the static report: the largest, each with its ancestors."""


def outline(view: ReportView, limit: int = STATIC_NODES) -> dict[str, Any]:
    """The `limit` hottest nodes, depth first, as flat rows with their depth (a flat list,
    as trees can be hundreds of frames deep): the call tree of the static report.

    A row is `node_row` plus `depth`, `open` (on the hot path), `hidden` (children left
    out) and `hidden_time`.
    """
    root = view.report.call_tree
    if root is None:
        return {"rows": [], "more": 0}
    chosen = hot_nodes(root, limit)
    scale = time_scale(view)
    hot: set[int] = set()
    node: CallNode | None = root
    while node is not None:
        hot.add(id(node))
        node = max(node.children, key=lambda child: child.total_s) if node.children else None
    rows: list[dict[str, Any]] = []
    stack: list[tuple[int, CallNode]] = [(0, root)]
    while stack:
        depth, node = stack.pop()
        shown = [child for child in node.children if id(child) in chosen]
        left_out = [child for child in node.children if id(child) not in chosen]
        row = node_row(node, len(rows), scale)
        row.update(
            depth=depth,
            open=id(node) in hot,
            hidden=len(left_out),
            hidden_time=format_duration(sum(child.total_s for child in left_out)) if left_out else "",
        )
        rows.append(row)
        stack.extend((depth + 1, child) for child in reversed(shown))
    total = tree_size(root) if len(chosen) >= limit else len(chosen)
    return {"rows": rows, "more": total - len(chosen)}


def static(view: ReportView) -> str:
    """Nested `<details>`, the hot path open, from `outline`."""
    data = clean(outline(view))
    if not data["rows"]:
        return ""
    out: list[str] = []
    closing: list[str] = []
    depths: list[int] = []
    for row in data["rows"]:
        while depths and depths[-1] >= row["depth"]:
            depths.pop()
            out.append(closing.pop())
        line = _static_line(row)
        if not row["children"]:
            out.append(f'<div class="sm-leaf">{line}</div>')
            continue
        out.append(f"<details{' open' if row['open'] else ''}><summary>{line}</summary><div>")
        tail = "</div></details>"
        if row["hidden"]:
            tail = more(f"{plural(row['hidden'], 'more call')} ({row['hidden_time']}) not shown") + tail
        closing.append(tail)
        depths.append(row["depth"])
    out.extend(reversed(closing))
    left = more(f"{format_count(data['more'])} more nodes not shown.") if data["more"] else ""
    return (
        "<h3>Call tree</h3>"
        '<div class="sm-muted">total ms · self ms · calls · share of the profiled time; '
        "<b>bold</b>: the profiled code's own frames</div>"
        f'<div class="sm-tree">{"".join(out)}</div>{left}'
    )


def _static_line(row: dict[str, Any]) -> str:
    """One line of the call tree; kept short, as a tree may show thousands of them."""
    share = row["share"] * 100
    name = f"<b>{escape(row['name'])}</b>" if row["kind"] == "cell" else escape(row["name"])
    where = (
        f' <span class="sm-muted" title="{escape(row["file"])}">{escape(row["place"])}</span>'
        if row["place"]
        else ""
    )
    bar = f'<span style="width:{share:.0f}%"></span>' if share >= 0.5 else ""
    return (
        f'<span class="n">{escape(row["total"])}</span><span class="n">{escape(row["self"])}</span>'
        f'<span class="n">{escape(row["calls"])}</span>'
        f'<span class="sm-share">{bar}</span>{name}{where}'
    )


TAB = Tab(
    name="tree",
    title="Call tree",
    count=lambda view: "" if view.report.call_tree is not None else "none",
    requests={
        "tree": lambda view, args: clean(tree(view)),
        "children": lambda view, args: clean(children(view, int(args["node"]), int(args.get("offset", 0)))),
    },
    static=static,
)
