"""Views of a Report that every renderer shows the same way: statement groups, the hot
part of the call tree, and human units.

Kept apart from the formats so the text and HTML renderers agree on what a group is,
which nodes are "hot" and how a duration or a size is written.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from sqla_magic.model import CACHE_STATES, LAYERS, CallNode, Memory, PlanNode, Report, statement_rows

LAYER_TITLES: Mapping[str, str] = {
    "database": "database",
    "fetch": "fetch",
    "compile": "compile",
    "orm_load": "ORM loading",
    "flush": "flush (unit of work)",
    "mapper_config": "mapper config",
    "python": "Python",
}

LAYER_COLOURS: Mapping[str, str] = {
    "database": "#4e79a7",
    "fetch": "#76b7b2",
    "compile": "#f28e2b",
    "orm_load": "#e15759",
    "flush": "#edc948",
    "mapper_config": "#b07aa1",
    "python": "#8c8c8c",
}
"""The layer bar's colours, the same in the widget and the static report."""
OTHER_LAYER_COLOUR = "#c9c9c9"

SEVERITY_ORDER: Mapping[str, int] = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class StatementGroup:
    """The executions of one statement shape (one fingerprint)."""

    fingerprint: str
    sql: str
    """SQL of the group's first execution."""
    indexes: tuple[int, ...]
    """Indexes into `Report.statements`, in execution order."""
    total_s: float
    max_s: float
    rows: int
    cache: Mapping[str, int]
    lines: tuple[int, ...]
    origins: tuple[str, ...]
    errors: int

    @property
    def count(self) -> int:
        return len(self.indexes)

    @property
    def mean_s(self) -> float:
        return self.total_s / self.count if self.indexes else 0.0


@dataclass(frozen=True)
class StatementGroups:
    """The largest groups in full, and what the others add up to."""

    shown: list[StatementGroup]
    shapes: int
    """Number of distinct fingerprints, shown or not."""
    hidden_executions: int = 0
    hidden_s: float = 0.0

    @property
    def hidden_shapes(self) -> int:
        return self.shapes - len(self.shown)


def group_statements(report: Report, limit: Optional[int] = None) -> StatementGroups:
    """Statement groups by fingerprint, largest total time first; only `limit` built in full.

    The first pass keeps only flat lists of numbers per fingerprint: allocating a few
    containers per group for 100k distinct statements would cost more than the rest of
    the rendering (mostly in garbage collection over a large report).
    """
    statements = report.statements
    group_ids: dict[str, int] = {}
    group_of: list[int] = []
    totals: list[float] = []
    counts: list[int] = []
    for statement in statements:
        group = group_ids.get(statement.fingerprint)
        if group is None:
            group = group_ids[statement.fingerprint] = len(totals)
            totals.append(0.0)
            counts.append(0)
        totals[group] += statement.duration_s
        counts[group] += 1
        group_of.append(group)
    shapes = len(totals)
    size = shapes if limit is None else min(limit, shapes)
    chosen = heapq.nlargest(size, range(shapes), key=lambda g: (totals[g], counts[g], -g))
    members: dict[int, list[int]] = {group: [] for group in chosen}
    for index, group in enumerate(group_of):
        indexes = members.get(group)
        if indexes is not None:
            indexes.append(index)
    shown = [_group(report, members[group]) for group in chosen]
    return StatementGroups(
        shown=shown,
        shapes=shapes,
        hidden_executions=len(statements) - sum(g.count for g in shown),
        hidden_s=max(sum(totals) - sum(g.total_s for g in shown), 0.0),
    )


def _group(report: Report, indexes: list[int]) -> StatementGroup:
    executions = [report.statements[i] for i in indexes]
    cache: dict[str, int] = {}
    for statement in executions:
        cache[statement.cache] = cache.get(statement.cache, 0) + 1
    return StatementGroup(
        fingerprint=executions[0].fingerprint,
        sql=executions[0].sql,
        indexes=tuple(indexes),
        total_s=sum(s.duration_s for s in executions),
        max_s=max(s.duration_s for s in executions),
        rows=sum(statement_rows(s) for s in executions),
        cache={state: cache[state] for state in _ordered_states(cache)},
        lines=tuple(sorted({s.line for s in executions if s.line is not None})),
        origins=tuple(sorted({s.origin for s in executions})),
        errors=sum(1 for s in executions if s.error),
    )


@dataclass(frozen=True)
class RequestGroup:
    """The statements of one test-client request (a web request is a unit of work)."""

    request: str
    """`GET /explore?page=2`."""
    index: int
    """`Statement.request_index`: tells apart two requests to one URL."""
    indexes: tuple[int, ...]
    total_s: float
    """Execute and fetch time of its statements."""
    rows: int
    shapes: int
    repeated: int
    """Executions beyond the first of a statement with the same SQL and parameters in it."""


def group_requests(report: Report) -> list[RequestGroup]:
    """One group per test-client request, in the order the requests ran; empty when no
    statement ran in one."""
    members: dict[int, list[int]] = {}
    for index, statement in enumerate(report.statements):
        if statement.request_index is not None:
            members.setdefault(statement.request_index, []).append(index)
    groups = []
    for request_index, indexes in members.items():
        executions = [report.statements[i] for i in indexes]
        distinct = {(s.sql, repr(s.params)) for s in executions}
        groups.append(
            RequestGroup(
                request=executions[0].request or "",
                index=request_index,
                indexes=tuple(indexes),
                total_s=sum(s.duration_s + s.fetch_s for s in executions),
                rows=sum(statement_rows(s) for s in executions),
                shapes=len({s.fingerprint for s in executions}),
                repeated=len(executions) - len(distinct),
            )
        )
    return groups


def _ordered_states(cache: Mapping[str, int]) -> list[str]:
    known = [state for state in CACHE_STATES if state in cache]
    return known + sorted(state for state in cache if state not in CACHE_STATES)


def slowest_statements(report: Report, limit: int) -> list[int]:
    """Indexes of the `limit` slowest executions, slowest first."""
    durations = ((s.duration_s, i) for i, s in enumerate(report.statements))
    return [i for _, i in heapq.nlargest(limit, durations, key=lambda pair: pair[0])]


def layer_shares(report: Report) -> list[tuple[str, float, float]]:
    """(layer, seconds, fraction of the layers' sum) in display order, layers of the model first."""
    names = [name for name in LAYERS if name in report.layers]
    names += sorted(name for name in report.layers if name not in LAYERS)
    seconds = [(name, max(float(report.layers[name]), 0.0)) for name in names]
    total = sum(s for _, s in seconds)
    return [(name, s, s / total if total > 0 else 0.0) for name, s in seconds]


def hot_nodes(root: CallNode, limit: int) -> set[int]:
    """Ids of the `limit` nodes with the largest total time whose ancestors are all chosen.

    Expanding best-first keeps the chosen nodes a connected tree from the root, so the
    hot path of a 100k-node tree can be shown without walking all of it.
    """
    chosen: set[int] = set()
    order = 0
    frontier: list[tuple[float, int, CallNode]] = [(-root.total_s, order, root)]
    while frontier and len(chosen) < limit:
        _, _, node = heapq.heappop(frontier)
        chosen.add(id(node))
        for child in node.children:
            order += 1
            heapq.heappush(frontier, (-child.total_s, order, child))
    return chosen


def tree_size(root: CallNode) -> int:
    """Number of nodes in the tree (a tight loop: trees can have 100k nodes)."""
    size = 0
    stack = [root]
    while stack:
        node = stack.pop()
        size += 1
        stack.extend(node.children)
    return size


def walk_chosen(root: CallNode, chosen: set[int]) -> Iterator[tuple[int, CallNode]]:
    """(depth, node) of the chosen nodes, depth first, children in their stored order."""
    stack: list[tuple[int, CallNode]] = [(0, root)] if id(root) in chosen else []
    while stack:
        depth, node = stack.pop()
        yield depth, node
        stack.extend((depth + 1, c) for c in reversed(node.children) if id(c) in chosen)


def node_place(node: CallNode) -> str:
    """`file.py:12`, shortened to the file's last two path parts."""
    if not node.file:
        return ""
    parts = re.split(r"[\\/]", node.file)
    return f"{'/'.join(parts[-2:])}:{node.line}"


def one_line_sql(sql: str, width: int) -> str:
    """The SQL on a single line, whitespace collapsed, cut to `width` characters."""
    flat = " ".join(sql[: width * 4].split())
    return shorten(flat, width)


def params_text(params: Any, width: int) -> str:
    """Parameters as one line of JSON (their repr where JSON cannot say them), shortened."""
    try:
        text = json.dumps(params, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(params)
    return shorten(text, width)


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def format_duration(seconds: float) -> str:
    """`850 µs`, `12.3 ms`, `1.24 s`, `2 min 5 s`."""
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{format_ms(seconds)} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes:.0f} min {rest:.0f} s"


def format_ms(seconds: float) -> str:
    """Milliseconds for table columns that are all in ms."""
    ms = seconds * 1000
    if ms >= 100:
        return f"{ms:,.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    return f"{ms:.2f}"


def format_bytes(count: float, signed: bool = False) -> str:
    """`512 B`, `1.5 KiB`, `12.3 MiB`; with `signed`, a `+` before growth."""
    sign = "-" if count < 0 else ("+" if signed and count > 0 else "")
    size = abs(float(count))
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{sign}{size:.0f} {unit}" if unit == "B" else f"{sign}{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


WALL_NOTE = "under the profiler: profiled Python runs slower than bare, the database does not"
"""What the wall time is: the profiled run's, which cProfile (and allocation tracing, when
asked for) slow down (about 1.5-3x for CPU-bound Python, in benchmarks/RESULTS.md) while waits on the database
stay as they are; no estimate of the bare time is sound, since tracemalloc's cost is per
allocation and the allocations are not counted."""


def memory_label(memory: Memory) -> str:
    """The memory headline's label: `allocated` for traced allocations, `resident`."""
    return "allocated at peak" if memory.method == "tracemalloc" else "resident peak"


def memory_explanation(memory: Memory) -> str:
    """How the memory headline was measured, in one sentence, with the secondary figures."""
    records = (
        f", without the profiler's own records ({format_bytes(memory.profiler_bytes)})"
        if memory.profiler_bytes >= 64 * 1024
        else ""
    )
    if memory.method == "tracemalloc":
        text = (
            "what the code allocated and still held at its highest, above what was held when it "
            f"started (tracemalloc){records}"
        )
        if memory.resident_bytes is not None:
            text += (
                f"; the process's resident memory grew by {format_bytes(memory.resident_bytes)}"
                " (it grows only for pages the process did not have yet)"
            )
        return text
    return (
        "how far the process's resident memory rose above its level at the start (the C heap's "
        f"free pages handed back to the system first, on glibc){records}; it counts the pages the "
        "code needed, not objects: --allocations traces what the cell allocated, at about twice the cost"
    )


def format_count(count: int) -> str:
    return f"{count:,}"


def plural(count: int, word: str) -> str:
    """`1 statement`, `300 statements`, `1,204 rows`."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def format_lines(lines: Sequence[int], limit: int = 6) -> str:
    if not lines:
        return "-"
    shown = ", ".join(str(line) for line in lines[:limit])
    return shown + (f", … (+{len(lines) - limit})" if len(lines) > limit else "")


def format_cache(cache: Mapping[str, int]) -> str:
    """`cached 299, generated 1`, or just `cached` when every execution agrees."""
    if len(cache) == 1:
        return next(iter(cache))
    return ", ".join(f"{state} {count}" for state, count in cache.items())


def findings_by_severity(report: Report) -> list[int]:
    """Indexes of the findings, high severity first, otherwise in their report order."""
    return sorted(
        range(len(report.findings)),
        key=lambda i: (SEVERITY_ORDER.get(report.findings[i].severity, len(SEVERITY_ORDER)), i),
    )


def plan_figures(node: PlanNode) -> str:
    """A plan node's numbers as one line, the same in the widget and the static HTML."""
    figures = []
    if node.cost is not None:
        figures.append(f"cost {node.cost:g}")
    if node.rows is not None:
        figures.append(f"est. rows {node.rows:g}")
    if node.actual_rows is not None:
        figures.append(f"actual rows {node.actual_rows:g}")
    if node.loops is not None and node.loops != 1:
        figures.append(f"loops {node.loops:g}")
    if node.actual_time_ms is not None:
        figures.append(f"{node.actual_time_ms:g} ms")
    if node.index:
        figures.append(f"index {node.index}")
    return ", ".join(figures)
