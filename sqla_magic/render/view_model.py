"""What each part of the notebook view shows, as plain JSON-ready data.

The widget sends these payloads to the browser, a page at a time, and the browser only
lays them out.  Keeping the decisions here (what a finding card says, how groups sort,
which call-tree branches start open) makes them testable without a browser.

Every string leaves through `clean()`: the browser puts text into the page with
`textContent` only, so markup in SQL or parameters stays inert; `clean()` additionally
makes invisible characters (terminal escapes, bidirectional overrides, lone
surrogates) visible, so a value cannot disguise itself, and caps very long values.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from sqla_magic import _compat
from sqla_magic.model import CallNode, Finding, Plan, PlanNode, Report, Statement, statement_rows
from sqla_magic.render.html import LAYER_COLOURS, OTHER_LAYER_COLOUR
from sqla_magic.render.summary import (
    LAYER_TITLES,
    StatementGroup,
    findings_by_severity,
    format_bytes,
    format_cache,
    format_count,
    format_duration,
    format_lines,
    format_ms,
    group_statements,
    layer_shares,
    node_place,
    one_line_sql,
    params_text,
    plural,
    shorten,
)
from sqla_magic.sqltext import format_sql, sql_tokens

PAGE_SIZE = 50
"""Rows per page of statement groups and of a group's executions."""
CHILDREN_PAGE = 100
"""Call-tree children sent per expansion; the rest come on request."""
HOT_SHARE = 0.01
"""Call-tree branches below this share of the profiled time do not start open."""
MAX_TEXT = 20_000
"""Longer strings are cut: a page of the view never carries megabytes of one value."""
MAX_PARAMS_TEXT = 2_000
MAX_EVIDENCE_SHAPES = 3
MAX_PLAN_NODES = 300
MAX_MEMORY_LINES = 2_000

SORT_KEYS = ("total", "count", "mean", "max", "rows", "first")

TABS = ("findings", "statements", "tree", "memory", "explain", "orm")

ORM_LOAD_FUNCTIONS = _compat.ORM_ROW_FUNCTIONS


# -- text safety ------------------------------------------------------------------------

_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)


def clean(value: Any) -> Any:
    """The payload with every string made safe to show as text (see the module docstring)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_text(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


def clean_text(text: str) -> str:
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + f"… (+{len(text) - MAX_TEXT:,} chars)"
    return _INVISIBLE.sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# -- SQL --------------------------------------------------------------------------------

# -- header -----------------------------------------------------------------------------


def header(report: Report) -> dict[str, Any]:
    """The headline figures, the layer bar, and what each tab holds (for its label)."""
    figures: list[dict[str, Any]] = [
        {
            "label": "wall time",
            "value": format_duration(report.wall_s),
            "detail": "under the profiler (slower than bare)",
        },
        {"label": "statements", "value": format_count(len(report.statements))},
        {"label": "rows", "value": format_count(report.rows)},
        {
            "label": "ORM objects",
            "value": format_count(report.objects),
            "detail": "" if report.objects or not report.rows else "rows matched objects already held",
        },
    ]
    if report.memory is not None:
        figures.append({"label": "peak memory", "value": format_bytes(report.memory.peak_bytes, signed=True)})
    high = sum(1 for f in report.findings if f.severity == "high")
    figures.append(
        {
            "label": "findings",
            "value": format_count(len(report.findings)),
            "alert": high > 0,
            "detail": f"{high} high" if high else "",
        }
    )
    layers = [
        {
            "name": name,
            "title": LAYER_TITLES.get(name, name),
            "colour": LAYER_COLOURS.get(name, OTHER_LAYER_COLOUR),
            "seconds": format_duration(seconds),
            "share": round(share, 4),
            "percent": f"{share * 100:.1f}%",
        }
        for name, seconds, share in layer_shares(report)
    ]
    error = None
    if report.error is not None:
        where = f" (line {report.error.line})" if report.error.line is not None else ""
        error = {
            "title": f"The profiled code raised {report.error.type}{where}",
            "message": report.error.message,
        }
    shapes = len({s.fingerprint for s in report.statements})
    tabs = {
        "findings": format_count(len(report.findings)),
        "statements": format_count(shapes),
        "tree": "" if report.call_tree is not None else "none",
        "memory": "" if report.memory is not None else "off",
        "explain": format_count(len(report.plans)),
        "orm": format_count(report.objects),
    }
    notes = list(report.notes)
    if report.dropped_statements:
        notes.insert(
            0,
            f"{format_count(report.dropped_statements)} more statements ran beyond the capture limit "
            "and were not kept.",
        )
    notes += [
        f"{w.category}: {w.message}" + (f" (line {w.line})" if w.line is not None else "")
        for w in report.warnings[:20]
    ]
    return {
        "figures": figures,
        "cpu": format_duration(report.cpu_s),
        "layers": layers,
        "error": error,
        "context": " · ".join(text for text in (report.started_at, _shown_file(report.filename)) if text),
        "tabs": tabs,
        "first_tab": "findings" if report.findings else "statements",
        "notes": notes,
    }


def _shown_file(filename: str) -> str:
    """The profiled file, unless it is a notebook cell's pseudo-file (its name means nothing)."""
    return "" if "ipykernel_" in filename or filename.startswith("<") else filename


# -- findings ---------------------------------------------------------------------------


def findings(report: Report) -> list[dict[str, Any]]:
    """One card per finding, high severity first; `index` is what the buttons send back."""
    source_lines = report.source.splitlines()
    return [finding_card(report, index, source_lines) for index in findings_by_severity(report)]


def finding_card(report: Report, index: int, source_lines: Sequence[str]) -> dict[str, Any]:
    finding = report.findings[index]
    card: dict[str, Any] = {
        "index": index,
        "number": index + 1,
        "severity": finding.severity,
        "rule": finding.rule,
        "title": finding.title,
        "message": finding.message,
        "where": _where(finding),
        "lines": [
            {"line": line, "source": source_lines[line - 1] if 0 < line <= len(source_lines) else ""}
            for line in finding.lines[:10]
        ],
        "evidence": _evidence(report, finding),
        "fix": finding.fix or "",
        "rewrite": None,
    }
    if finding.rewrite is not None:
        card["rewrite"] = {
            "explanation": finding.rewrite.explanation,
            "diff": diff_lines(finding.rewrite.diff()),
            "original": finding.rewrite.original,
            "code": finding.rewrite.rewritten,
        }
    return card


def exact_code(report: Report, cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cleaned cards with the code for the editor put back exactly as written.

    `clean` shortens long text and spells out invisible characters, which is right for
    reading and wrong for Apply and Copy: they get the rewrite (and the cell it replaces)
    untouched, however long, zero-width joiners and all.
    """
    for card in cards:
        finding = report.findings[card["index"]]
        if card.get("rewrite") and finding.rewrite is not None:
            card["rewrite"]["code"] = finding.rewrite.rewritten
            card["rewrite"]["original"] = finding.rewrite.original
        card["fix_code"] = fix_code(finding.fix or "")
    return cards


def fix_code(fix: str) -> str:
    """What Copy takes from a change outside the cell: its code, not the prose around it.

    Fix texts quote code in backticks; the SQL statement (`CREATE INDEX ...`) is preferred,
    else the last quoted piece, else the whole text.
    """
    quoted: list[str] = re.findall(r"`([^`]+)`", fix)
    for piece in quoted:
        if re.match(r"\s*(CREATE|ALTER|DROP)\b", piece, re.I):
            return piece.strip()
    return quoted[-1].strip() if quoted else fix


def _where(finding: Finding) -> str:
    where = []
    if finding.lines:
        where.append(f"{'line' if len(finding.lines) == 1 else 'lines'} {format_lines(finding.lines)}")
    if finding.statements:
        where.append(plural(len(finding.statements), "statement"))
    return " · ".join(where)


def _evidence(report: Report, finding: Finding) -> dict[str, Any]:
    """The statements behind a finding, summed, and the shapes they share."""
    statements = [report.statements[i] for i in finding.statements if 0 <= i < len(report.statements)]
    shapes: dict[str, list[Statement]] = {}
    for statement in statements:
        shapes.setdefault(statement.fingerprint, []).append(statement)
    ordered = sorted(shapes.values(), key=lambda group: -sum(s.duration_s for s in group))
    fingerprints = set(shapes)
    wanted = set(finding.statements)
    warnings = [
        f"{warning.kind}: {warning.message}"
        for plan in report.plans
        if plan.statement in wanted or plan.fingerprint in fingerprints
        for warning in plan.warnings
    ]
    seconds = format_duration(sum(s.duration_s for s in statements))
    rows = plural(sum(statement_rows(s) for s in statements), "row")
    return {
        "summary": (
            f"{plural(len(statements), 'statement')}, {seconds} in the database, {rows}" if statements else ""
        ),
        "shapes": [
            {
                "count": format_count(len(group)),
                "total": format_duration(sum(s.duration_s for s in group)),
                "origin": ", ".join(sorted({s.origin for s in group})),
                "sql": one_line_sql(group[0].sql, 160),
            }
            for group in ordered[:MAX_EVIDENCE_SHAPES]
        ],
        "more_shapes": max(len(ordered) - MAX_EVIDENCE_SHAPES, 0),
        "plan_warnings": warnings[:10],
    }


def diff_lines(diff: str) -> list[list[str]]:
    """`[kind, text]` per line of a unified diff: `add`, `del`, `hunk`, `meta` or `` (context)."""
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            kind = "meta"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = ""
        lines.append([kind, line])
    return lines


def rewrite_source(report: Report, number: int) -> str:
    """The rewritten cell of finding `number` (as numbered on its card, from 1)."""
    if not report.findings:
        raise ValueError("the report has no findings")
    if not 1 <= number <= len(report.findings):
        raise ValueError(f"no finding #{number}: the report has findings #1 to #{len(report.findings)}")
    finding = report.findings[number - 1]
    if finding.rewrite is None:
        raise ValueError(f"finding #{number} ({finding.rule}) has no rewrite of the cell")
    return finding.rewrite.rewritten


# -- statements -------------------------------------------------------------------------


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
    }


# -- call tree --------------------------------------------------------------------------


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


# -- memory, plans, ORM -----------------------------------------------------------------


def memory(report: Report) -> dict[str, Any]:
    if report.memory is None:
        return {"present": False, "message": "Memory was not traced (--no-memory)."}
    mem = report.memory
    lines = list(mem.lines or ())
    return {
        "present": True,
        "peak": format_bytes(mem.peak_bytes, signed=True),
        "method": mem.method,
        "explanation": (
            "Python allocations traced with tracemalloc"
            if mem.method == "tracemalloc"
            else "growth of the process's resident memory, sampled"
        ),
        "lines": [
            {
                "line": entry.line,
                "increment": format_bytes(entry.increment_bytes, signed=True),
                "total": format_bytes(entry.total_bytes),
                "peak": format_bytes(entry.peak_bytes),
                "runs": format_count(entry.occurrences),
                "source": entry.source.rstrip(),
                "heavy": entry.increment_bytes >= max(mem.peak_bytes, 1) * 0.25,
            }
            for entry in lines[:MAX_MEMORY_LINES]
        ],
        "more_lines": max(len(lines) - MAX_MEMORY_LINES, 0),
        "hint": "" if mem.lines else "Run with --memory-lines for a per-line table.",
    }


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
                    "figures": _plan_figures(node),
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


def _plan_figures(node: PlanNode) -> str:
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


# -- before / after -----------------------------------------------------------------------


def comparison(before: Report, after: Report) -> list[dict[str, Any]]:
    """Headline figures of two profiled runs side by side, with the change of each."""

    def database(report: Report) -> float:
        return sum(s.duration_s for s in report.statements)

    def peak(report: Report) -> Optional[float]:
        return float(report.memory.peak_bytes) if report.memory is not None else None

    return compare_measures(
        [
            ("wall time", before.wall_s, after.wall_s, format_duration),
            ("statements", len(before.statements), len(after.statements), _count),
            ("time in the database", database(before), database(after), format_duration),
            ("rows", before.rows, after.rows, _count),
            ("ORM objects", before.objects, after.objects, _count),
            ("peak memory", peak(before), peak(after), _signed_bytes),
            ("findings", len(before.findings), len(after.findings), _count),
        ]
    )


RUN_MEASURES: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("wall_s", "wall time", lambda v: format_duration(v)),
    ("statements", "statements", lambda v: format_count(int(v))),
    ("executions", "parameter sets sent", lambda v: format_count(int(v))),
    ("writes", "writes (INSERT/UPDATE/DELETE)", lambda v: format_count(int(v))),
    ("peak_bytes", "peak memory", lambda v: format_bytes(v, signed=True)),
)
"""Figures of one verification run (`verify.RunFigures`) worth comparing, if present."""


def run_comparison(before: Any, after: Any) -> list[dict[str, Any]]:
    """Before/after rows for two verification runs, from whichever figures both carry."""
    measures = []
    for name, label, show in RUN_MEASURES:
        old, new = getattr(before, name, None), getattr(after, name, None)
        if isinstance(old, (int, float)) and isinstance(new, (int, float)):
            measures.append((label, float(old), float(new), show))
    return compare_measures(measures)


def compare_measures(
    measures: Sequence[tuple[str, Optional[float], Optional[float], Callable[[float], str]]],
) -> list[dict[str, Any]]:
    """One row per measure both runs have: the two values, the change, better or worse (lower wins)."""
    rows = []
    for label, old, new, show in measures:
        if old is None or new is None:
            continue
        change = ""
        if old:
            change = f"{(new - old) / abs(old) * 100:+.0f}%"
        elif new:
            change = "new"
        rows.append(
            {
                "label": label,
                "before": show(old),
                "after": show(new),
                "change": change,
                "better": new < old,
                "worse": new > old,
            }
        )
    return rows


def _count(value: float) -> str:
    return format_count(int(value))


def _signed_bytes(value: float) -> str:
    return format_bytes(value, signed=True)


# -- the state behind one view --------------------------------------------------------------


class ReportView:
    """Answers the browser's requests for one report; holds only caches, never view state.

    Groups are built on the first request for them, and call-tree nodes get ids as they
    are sent, so opening the view costs the header and the first tab, whatever the size
    of the report.  With `hold=False` the report is held weakly, so a view kept by a
    long-lived widget does not keep its report (and its statements) alive.
    """

    def __init__(self, report: Report, hold: bool = True) -> None:
        self._held: Optional[Report] = report if hold else None
        self._ref = weakref.ref(report)
        self._groups: Optional[list[StatementGroup]] = None
        self._order: dict[str, list[int]] = {}
        self._nodes: list[CallNode] = []

    @property
    def report(self) -> Report:
        report = self._ref()
        if report is None:
            raise LookupError("the report is no longer held by the kernel")
        return report

    def header(self) -> dict[str, Any]:
        return clean(header(self.report))  # type: ignore[no-any-return]

    def answer(self, kind: str, args: Mapping[str, Any]) -> Any:
        """The payload for one request of the browser, cleaned for display."""
        if kind == "findings":
            return exact_code(self.report, clean(findings(self.report)))
        if kind == "groups":
            return clean(self.groups(str(args.get("sort", "total")), int(args.get("page", 0))))
        if kind == "executions":
            return clean(self.executions(int(args["group"]), int(args.get("page", 0))))
        if kind == "tree":
            return clean(self.tree())
        if kind == "children":
            return clean(self.children(int(args["node"]), int(args.get("offset", 0))))
        if kind == "memory":
            return clean(memory(self.report))
        if kind == "explain":
            return clean(plans(self.report))
        if kind == "orm":
            return clean(orm_cost(self.report))
        raise ValueError(f"unknown request {kind!r}")

    # statements

    def all_groups(self) -> list[StatementGroup]:
        if self._groups is None:
            self._groups = group_statements(self.report).shown
        return self._groups

    def groups(self, sort: str, page: int) -> dict[str, Any]:
        groups = self.all_groups()
        if sort not in SORT_KEYS:
            sort = "total"
        order = self._order.get(sort)
        if order is None:
            order = self._order[sort] = sorted(
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
            "executions": format_count(len(self.report.statements)),
            "rows": [group_row(self.report, groups[g], g) for g in chosen],
        }

    def executions(self, group_id: int, page: int) -> dict[str, Any]:
        group = self.all_groups()[group_id]
        pages = max((group.count + PAGE_SIZE - 1) // PAGE_SIZE, 1)
        page = min(max(page, 0), pages - 1)
        indexes = group.indexes[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        statements = self.report.statements
        return {
            "group": group_id,
            "page": page,
            "pages": pages,
            "sql_tokens": sql_tokens(format_sql(group.sql)),
            "fingerprint": group.fingerprint,
            "rows": [execution_row(i, statements[i]) for i in indexes],
        }

    # call tree

    def _register(self, node: CallNode) -> int:
        self._nodes.append(node)
        return len(self._nodes) - 1

    def tree(self) -> dict[str, Any]:
        """The root with the hot path open: each open node carries its first children."""
        root = self.report.call_tree
        if root is None:
            return {"root": None}
        scale = self.scale()
        root_row = node_row(root, self._register(root), scale)
        row, node = root_row, root
        while node.children:
            page = self.children_rows(node, 0, scale)
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
        return {"root": root_row, "nodes": len(self._nodes)}

    def scale(self) -> float:
        """The time a share of 100% stands for (the root's own total can be 0 for cell frames)."""
        root = self.report.call_tree
        return max(root.total_s if root is not None else 0.0, self.report.wall_s, 1e-9)

    def children(self, node_id: int, offset: int) -> dict[str, Any]:
        return self.children_rows(self._nodes[node_id], offset, self.scale())

    def children_rows(self, node: CallNode, offset: int, scale: float) -> dict[str, Any]:
        shown = node.children[offset : offset + CHILDREN_PAGE]
        rest = node.children[offset + CHILDREN_PAGE :]
        return {
            "offset": offset,
            "rows": [node_row(child, self._register(child), scale) for child in shown],
            "more": len(rest),
            "more_time": format_duration(sum(child.total_s for child in rest)) if rest else "",
        }
