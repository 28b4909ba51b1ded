"""The HTML report: a self-contained fragment for notebooks and a standalone page for files.

No JavaScript and no external resources: expanding is done with `<details>`, bars with
CSS flex, so the output survives nbconvert, static notebook viewers and offline viewing.
Every piece of user data (SQL, parameters, file names, source, messages) goes through
`escape()`; values used as CSS classes come from fixed tables, never from the report.
Sections are capped (groups, executions per group, call-tree nodes, plan nodes) so a
report with tens of thousands of statements still renders in a fraction of a second.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Optional

from sqla_magic.model import (
    CallNode,
    CapturedWarning,
    Finding,
    Memory,
    Plan,
    PlanNode,
    Report,
    Statement,
    statement_rows,
)
from sqla_magic.render.escapes import visible
from sqla_magic.render.summary import (
    LAYER_TITLES,
    WALL_NOTE,
    StatementGroup,
    findings_by_severity,
    format_bytes,
    format_cache,
    format_count,
    format_duration,
    format_lines,
    format_ms,
    group_requests,
    group_statements,
    hot_nodes,
    layer_shares,
    memory_explanation,
    memory_label,
    node_place,
    one_line_sql,
    params_text,
    plan_figures,
    plural,
    shorten,
    slowest_statements,
    tree_size,
)
from sqla_magic.sqltext import MAX_FORMATTED_SQL, break_clauses, reindent

MAX_GROUPS = 50
MAX_EXECUTIONS = 50
"""Executions listed per group..."""
MAX_EXECUTION_ROWS = 1_000
"""...and in all groups together (each group still lists at least MIN_EXECUTIONS)."""
MIN_EXECUTIONS = 5
MAX_SLOWEST = 10
MAX_TREE_NODES = 2_000
MAX_MEMORY_LINES = 1_000
MAX_PLANS = 20
MAX_PLAN_NODES = 300
MAX_LISTED = 100
MAX_SQLPARSE_CALLS = 30
"""sqlparse takes a few ms per statement; beyond this many, SQL only gets line breaks."""
MAX_PARAMS_TEXT = 400

LAYER_COLOURS: Mapping[str, str] = {
    "database": "#4e79a7",
    "fetch": "#76b7b2",
    "compile": "#f28e2b",
    "orm_load": "#e15759",
    "flush": "#edc948",
    "mapper_config": "#b07aa1",
    "python": "#8c8c8c",
}
OTHER_LAYER_COLOUR = "#c9c9c9"
SEVERITY_CLASSES: Mapping[str, str] = {"high": "sm-high", "medium": "sm-medium", "low": "sm-low"}

ROOT_CLASS = "sqla-magic-report"

STYLE = (Path(__file__).parent / "static" / "report.css").read_text(encoding="utf-8")
"""The report's own style, scoped to ROOT_CLASS; kept as a real .css file beside this module."""
PAGE_STYLE = (Path(__file__).parent / "static" / "page.css").read_text(encoding="utf-8")
"""The standalone page's: the reader's light or dark colour scheme."""


def escape(value: object) -> str:
    """Every piece of report data on its way into HTML passes here."""
    return html.escape(str(value), quote=True)


def prose(text: str) -> str:
    """Escaped prose whose `backticked` parts (code, in the rules' messages) become <code>."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # unbalanced: leave it as written
        return escape(text)
    return "".join(f"<code>{escape(part)}</code>" if i % 2 else escape(part) for i, part in enumerate(parts))


def render_fragment(report: Report) -> str:
    """A `<div>` with its own scoped style, for `_repr_html_` and notebook outputs."""
    return visible(_Renderer(report).fragment())


def render_page(report: Report) -> str:
    """A standalone HTML page with the same sections, viewable offline."""
    title = "sqla_magic report" + (f" — {report.started_at}" if report.started_at else "")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>{PAGE_STYLE}</style>\n"
        "</head>\n<body>\n"
        f"{render_fragment(report)}\n</body>\n</html>\n"
    )


class _Renderer:
    """Holds the report and a per-render cache of formatted SQL while sections are written."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.formatted_sql: dict[str, str] = {}
        self.sqlparse_calls = 0
        self.execution_rows_left = MAX_EXECUTION_ROWS

    def fragment(self) -> str:
        # What to do first, then the evidence behind it.
        sections = [
            self.header(),
            self.layers(),
            self.findings(),
            self.groups(),
            self.requests(),
            self.slowest(),
            self.plans(),
            self.call_tree(),
            self.memory(),
            self.warnings(),
            self.notes(),
        ]
        body = "\n".join(section for section in sections if section)
        return f'<div class="{ROOT_CLASS}">\n<style>{STYLE}</style>\n{body}\n</div>'

    # -- header -------------------------------------------------------------------------

    def header(self) -> str:
        report = self.report
        figures = [
            (format_duration(report.wall_s), "wall, under the profiler"),
            (format_duration(report.cpu_s), "CPU"),
            (format_count(len(report.statements)), "statements"),
            (format_count(report.rows), "rows"),
            (format_count(report.objects), "ORM objects"),
        ]
        if report.memory is not None:
            figures.append((format_bytes(report.memory.peak_bytes, signed=True), memory_label(report.memory)))
        figures.append((format_count(len(report.findings)), "findings"))
        parts = ["<h2>sqla_magic report</h2>"]
        context = [text for text in (report.started_at, report.filename) if text]
        if context:
            parts.append(f'<div class="sm-muted">{escape(" · ".join(context))}</div>')
        parts.append(
            '<div class="sm-figures">'
            + "".join(
                f'<div class="sm-figure"><b>{escape(v)}</b>{escape(label)}</div>' for v, label in figures
            )
            + "</div>"
        )
        if report.dropped_statements:
            parts.append(
                f'<div class="sm-more">{format_count(report.dropped_statements)} more statements ran '
                "beyond the capture limit and were not kept.</div>"
            )
        if report.error is not None:
            error = report.error
            where = f" (line {escape(error.line)})" if error.line is not None else ""
            parts.append(
                f'<div class="sm-error"><b>The profiled code raised {escape(error.type)}{where}</b>'
                f"<pre>{escape(error.message)}</pre></div>"
            )
        return "\n".join(parts)

    # -- layers -------------------------------------------------------------------------

    def layers(self) -> str:
        shares = layer_shares(self.report)
        if not shares or sum(seconds for _, seconds, _ in shares) <= 0:
            return ""
        segments = []
        legend = []
        for name, seconds, fraction in shares:
            colour = LAYER_COLOURS.get(name, OTHER_LAYER_COLOUR)
            title = LAYER_TITLES.get(name, name)
            tooltip = f"{title}: {format_duration(seconds)} ({fraction * 100:.1f}%)"
            if fraction > 0:
                label = escape(title) if fraction >= 0.08 else ""
                segments.append(
                    f'<span style="flex:0 0 {fraction * 100:.3f}%;background:{colour}" '
                    f'title="{escape(tooltip)}">{label}</span>'
                )
            legend.append(
                f'<tr><td><span class="sm-swatch" style="background:{colour}"></span>{escape(title)}</td>'
                f'<td class="n">{escape(format_duration(seconds))}</td>'
                f'<td class="n">{fraction * 100:.1f}%</td></tr>'
            )
        return (
            "<h3>Where the time went</h3>"
            f'<div class="sm-bar">{"".join(segments)}</div>'
            f"<table>{''.join(legend)}</table>"
        )

    # -- statements -----------------------------------------------------------------------

    def groups(self) -> str:
        report = self.report
        if not report.statements:
            return "<h3>SQL statements</h3><p>No SQL statements.</p>"
        groups = group_statements(report, MAX_GROUPS)
        rows = [
            "<tr><th class='n'>count</th><th class='n'>total ms</th><th class='n'>mean ms</th>"
            "<th class='n'>max ms</th><th class='n'>rows</th><th>cache</th><th>lines</th>"
            "<th>origin</th><th>SQL</th></tr>"
        ]
        for group in groups.shown:
            rows.append(self.group_row(group))
        parts = [
            f"<h3>SQL statements: {format_count(len(report.statements))} executions, "
            f"{format_count(groups.shapes)} shapes</h3>",
            f"<table>{''.join(rows)}</table>",
        ]
        if groups.hidden_shapes:
            parts.append(
                f'<div class="sm-more">{format_count(groups.hidden_shapes)} more shapes not shown '
                f"({format_count(groups.hidden_executions)} executions, "
                f"{escape(format_duration(groups.hidden_s))}).</div>"
            )
        return "\n".join(parts)

    def requests(self) -> str:
        requests = group_requests(self.report)
        if not requests:
            return ""
        rows = [
            "<tr><th>request</th><th class='n'>statements</th><th class='n'>total ms</th>"
            "<th class='n'>rows</th><th class='n'>shapes</th><th class='n'>repeats</th></tr>"
        ]
        for group in requests[:MAX_GROUPS]:
            rows.append(
                f"<tr><td><code>{escape(group.request)}</code></td>"
                f'<td class="n">{format_count(len(group.indexes))}</td>'
                f'<td class="n">{escape(format_ms(group.total_s))}</td>'
                f'<td class="n">{format_count(group.rows)}</td>'
                f'<td class="n">{group.shapes}</td><td class="n">{group.repeated}</td></tr>'
            )
        more = ""
        if len(requests) > MAX_GROUPS:
            more = f'<div class="sm-more">{plural(len(requests) - MAX_GROUPS, "more request")}</div>'
        served = sum(len(r.indexes) for r in requests)
        return (
            f"<h3>Requests: {plural(len(requests), 'test-client request')}, "
            f"{format_count(served)} of {format_count(len(self.report.statements))} statements</h3>"
            f"<table>{''.join(rows)}</table>{more}"
        )

    def group_row(self, group: StatementGroup) -> str:
        statements = self.report.statements
        executions = [
            "<tr><th>#</th><th class='n'>ms</th><th class='n'>rows</th><th>cache</th><th>line</th>"
            "<th>origin</th><th>thread</th><th>parameters</th></tr>"
        ]
        listed = min(MAX_EXECUTIONS, max(MIN_EXECUTIONS, self.execution_rows_left))
        self.execution_rows_left -= listed
        for index in group.indexes[:listed]:
            executions.append(self.execution_row(index, statements[index]))
        more = ""
        if group.count > listed:
            more = f'<div class="sm-more">{plural(group.count - listed, "more execution")}</div>'
        failed = f' <span class="sm-tag">{group.errors} failed</span>' if group.errors else ""
        sql_cell = (
            f"<details><summary><code>{escape(one_line_sql(group.sql, 120))}</code>{failed}</summary>"
            f"<pre>{escape(self.format_sql(group.sql))}</pre>"
            f"<table>{''.join(executions)}</table>{more}</details>"
        )
        return (
            f'<tr><td class="n">{format_count(group.count)}</td>'
            f'<td class="n">{format_ms(group.total_s)}</td>'
            f'<td class="n">{format_ms(group.mean_s)}</td>'
            f'<td class="n">{format_ms(group.max_s)}</td>'
            f'<td class="n">{format_count(group.rows)}</td>'
            f"<td>{escape(format_cache(group.cache))}</td>"
            f"<td>{escape(format_lines(group.lines))}</td>"
            f"<td>{escape(shorten(', '.join(group.origins), 80))}</td>"
            f"<td>{sql_cell}</td></tr>"
        )

    def execution_row(self, index: int, statement: Statement) -> str:
        error = f'<div class="sm-error">{escape(statement.error)}</div>' if statement.error else ""
        sets = f" ({format_count(statement.param_sets)} sets)" if statement.param_sets > 1 else ""
        params = params_text(statement.params, MAX_PARAMS_TEXT)
        return (
            f"<tr><td>#{index + 1}</td><td class='n'>{format_ms(statement.duration_s)}</td>"
            f"<td class='n'>{format_count(statement_rows(statement))}</td>"
            f"<td>{escape(statement.cache)}</td>"
            f"<td>{escape(statement.line if statement.line is not None else '')}</td>"
            f"<td>{escape(statement.origin)}</td><td>{escape(statement.thread)}</td>"
            f"<td><code>{escape(params)}</code>{escape(sets)}{error}</td></tr>"
        )

    def slowest(self) -> str:
        report = self.report
        if len(report.statements) < 2:
            return ""
        rows = [
            "<tr><th>#</th><th class='n'>ms</th><th class='n'>rows</th><th>cache</th><th>line</th>"
            "<th>origin</th><th>SQL</th></tr>"
        ]
        for index in slowest_statements(report, MAX_SLOWEST):
            statement = report.statements[index]
            params = params_text(statement.params, MAX_PARAMS_TEXT)
            rows.append(
                f"<tr><td>#{index + 1}</td><td class='n'>{format_ms(statement.duration_s)}</td>"
                f"<td class='n'>{format_count(statement_rows(statement))}</td>"
                f"<td>{escape(statement.cache)}</td>"
                f"<td>{escape(statement.line if statement.line is not None else '')}</td>"
                f"<td>{escape(statement.origin)}</td>"
                f"<td><details><summary><code>{escape(one_line_sql(statement.sql, 100))}</code></summary>"
                f"<pre>{escape(self.format_sql(statement.sql))}</pre>"
                f"<div>parameters: <code>{escape(params)}</code></div>"
                f"<div class='sm-muted'>engine {escape(statement.engine)} · thread {escape(statement.thread)}"
                "</div></details></td></tr>"
            )
        return f"<h3>Slowest statements</h3><table>{''.join(rows)}</table>"

    def format_sql(self, sql: str) -> str:
        """Reindented SQL, formatted once per distinct text and only for what is shown."""
        formatted = self.formatted_sql.get(sql)
        if formatted is None:
            formatted = ""
            if len(sql) <= MAX_FORMATTED_SQL and self.sqlparse_calls < MAX_SQLPARSE_CALLS:
                self.sqlparse_calls += 1
                formatted = reindent(sql)
            self.formatted_sql[sql] = formatted = formatted or break_clauses(sql)
        return formatted

    # -- call tree ------------------------------------------------------------------------

    def call_tree(self) -> str:
        root = self.report.call_tree
        if root is None:
            return ""
        chosen = hot_nodes(root, MAX_TREE_NODES)
        hot_path = _hot_path(root)
        scale = root.total_s if root.total_s > 0 else 1.0
        out: list[str] = []
        # Explicit stack rather than recursion: trees may be hundreds of frames deep.
        stack: list[CallNode | str] = [root]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
                continue
            node = item
            row = _node_row(node, scale)
            if not node.children:
                out.append(f'<div class="sm-leaf">{row}</div>')
                continue
            shown = [child for child in node.children if id(child) in chosen]
            hidden = len(node.children) - len(shown)
            opened = " open" if id(node) in hot_path else ""
            out.append(f"<details{opened}><summary>{row}</summary><div>")
            stack.append("</div></details>")
            if hidden:
                hidden_s = sum(child.total_s for child in node.children if id(child) not in chosen)
                stack.append(
                    f'<div class="sm-more">{plural(hidden, "more call")} '
                    f"({escape(format_duration(hidden_s))}) not shown</div>"
                )
            stack.extend(reversed(shown))
        total_nodes = tree_size(root) if len(chosen) >= MAX_TREE_NODES else len(chosen)
        more = ""
        if total_nodes > len(chosen):
            more = (
                f'<div class="sm-more">{format_count(total_nodes - len(chosen))} more nodes not shown.</div>'
            )
        return (
            "<h3>Call tree</h3>"
            '<div class="sm-muted">total ms · self ms · calls · share of the profiled time; '
            "<b>bold</b>: the profiled code's own frames</div>"
            f'<div class="sm-tree">{"".join(out)}</div>{more}'
        )

    # -- memory -----------------------------------------------------------------------------

    def memory(self) -> str:
        memory: Optional[Memory] = self.report.memory
        if memory is None:
            return ""
        parts = [
            "<h3>Memory</h3>",
            f"<div>{escape(format_bytes(memory.peak_bytes, signed=True))} "
            f"{escape(memory_label(memory))}</div>",
            f'<div class="sm-muted">Measured as {escape(memory_explanation(memory))}.</div>',
            f'<div class="sm-muted">Wall time: {escape(WALL_NOTE)}.</div>',
        ]
        if memory.lines:
            rows = [
                "<tr><th class='n'>line</th><th class='n'>increment</th><th class='n'>total</th>"
                "<th class='n'>peak</th><th class='n'>runs</th><th>source</th></tr>"
            ]
            for entry in memory.lines[:MAX_MEMORY_LINES]:
                rows.append(
                    f"<tr><td class='n'>{escape(entry.line)}</td>"
                    f"<td class='n'>{escape(format_bytes(entry.increment_bytes, signed=True))}</td>"
                    f"<td class='n'>{escape(format_bytes(entry.total_bytes))}</td>"
                    f"<td class='n'>{escape(format_bytes(entry.peak_bytes))}</td>"
                    f"<td class='n'>{format_count(entry.occurrences)}</td>"
                    f"<td><code>{escape(entry.source.rstrip())}</code></td></tr>"
                )
            parts.append(f"<table>{''.join(rows)}</table>")
            if len(memory.lines) > MAX_MEMORY_LINES:
                hidden = len(memory.lines) - MAX_MEMORY_LINES
                parts.append(f'<div class="sm-more">{plural(hidden, "more line")}</div>')
        return "\n".join(parts)

    # -- plans --------------------------------------------------------------------------------

    def plans(self) -> str:
        plans = self.report.plans
        if not plans:
            return ""
        parts = ["<h3>EXPLAIN plans</h3>"]
        for plan in plans[:MAX_PLANS]:
            parts.append(self.plan(plan))
        if len(plans) > MAX_PLANS:
            parts.append(f'<div class="sm-more">{len(plans) - MAX_PLANS} more plans</div>')
        return "\n".join(parts)

    def plan(self, plan: Plan) -> str:
        where = f"statement #{plan.statement + 1}" if plan.statement is not None else plan.fingerprint[:12]
        kind = "EXPLAIN ANALYZE" if plan.analyzed else "EXPLAIN"
        warned_tables = {w.table for w in plan.warnings if w.table}
        parts = [
            f'<details class="sm-plan"{" open" if plan.warnings else ""}><summary>'
            f"{escape(kind)} of {escape(where)} ({escape(plan.dialect)})"
            + (
                f' <span class="sm-tag">{plural(len(plan.warnings), "warning")}</span>'
                if plan.warnings
                else ""
            )
            + f" <code>{escape(one_line_sql(plan.sql, 90))}</code></summary>"
        ]
        for warning in plan.warnings:
            columns = f" ({', '.join(warning.columns)})" if warning.columns else ""
            parts.append(
                f'<div class="sm-warn"><b>{escape(warning.kind)}</b>: {escape(warning.message)}'
                f"{escape(columns)}</div>"
            )
        if plan.note:
            parts.append(f'<div class="sm-muted">{escape(plan.note)}</div>')
        if plan.sql:
            parts.append(f"<pre>{escape(self.format_sql(plan.sql))}</pre>")
        if plan.root is not None:
            parts.append(_plan_tree(plan.root, warned_tables))
        parts.append("</details>")
        return "".join(parts)

    # -- findings, warnings, notes ----------------------------------------------------------

    def findings(self) -> str:
        report = self.report
        if not report.findings:
            return ""
        cards = [_finding_card(report.findings[i]) for i in findings_by_severity(report)[:MAX_LISTED]]
        more = ""
        if len(report.findings) > MAX_LISTED:
            more = f'<div class="sm-more">{len(report.findings) - MAX_LISTED} more findings</div>'
        return f"<h3>Findings ({len(report.findings)})</h3>{''.join(cards)}{more}"

    def warnings(self) -> str:
        warnings = self.report.warnings
        if not warnings:
            return ""
        items = "".join(f"<li>{_warning_text(w)}</li>" for w in warnings[:MAX_LISTED])
        more = (
            f"<li class='sm-more'>{len(warnings) - MAX_LISTED} more</li>"
            if len(warnings) > MAX_LISTED
            else ""
        )
        return f"<h3>Warnings ({len(warnings)})</h3><ul>{items}{more}</ul>"

    def notes(self) -> str:
        notes = self.report.notes
        if not notes:
            return ""
        return "<h3>Notes</h3><ul>" + "".join(f"<li>{escape(note)}</li>" for note in notes) + "</ul>"


def _hot_path(root: CallNode) -> set[int]:
    """Ids of the nodes from the root down its largest children: the branches shown open."""
    path = set()
    node: Optional[CallNode] = root
    while node is not None:
        path.add(id(node))
        node = max(node.children, key=lambda child: child.total_s) if node.children else None
    return path


def _node_row(node: CallNode, scale: float) -> str:
    """One line of the call tree; kept short, as a tree may show thousands of them."""
    share = min(max(node.total_s / scale, 0.0), 1.0) * 100
    name = f"<b>{escape(node.name)}</b>" if node.kind == "cell" else escape(node.name)
    place = node_place(node)
    where = f' <span class="sm-muted" title="{escape(node.file)}">{escape(place)}</span>' if place else ""
    bar = f'<span style="width:{share:.0f}%"></span>' if share >= 0.5 else ""
    return (
        f'<span class="n">{format_ms(node.total_s)}</span><span class="n">{format_ms(node.self_s)}</span>'
        f'<span class="n">{format_count(node.calls)}</span>'
        f'<span class="sm-share">{bar}</span>{name}{where}'
    )


def _plan_tree(root: PlanNode, warned_tables: set[str]) -> str:
    out: list[str] = ["<ul>"]
    shown = 0
    stack: list[PlanNode | str] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        shown += 1
        if shown > MAX_PLAN_NODES:
            out.append('<li class="sm-more">more plan nodes not shown</li>')
            break
        warned = ' class="sm-warn"' if item.table and item.table in warned_tables else ""
        out.append(f"<li{warned}>{_plan_node_text(item)}")
        if item.children:
            out.append("<ul>")
            stack.append("</ul></li>")
            stack.extend(reversed(item.children))
        else:
            out.append("</li>")
    if shown > MAX_PLAN_NODES:
        # Close whatever the cut left open, so the rest of the fragment stays well formed.
        out.extend(item for item in reversed(stack) if isinstance(item, str))
    out.append("</ul>")
    return "".join(out)


def _plan_node_text(node: PlanNode) -> str:
    figures = plan_figures(node)
    detail = f" <span class='sm-muted'>{escape(node.detail)}</span>" if node.detail else ""
    numbers = f" <span class='sm-tag'>{escape(figures)}</span>" if figures else ""
    return f"<b>{escape(node.label)}</b>{detail}{numbers}"


def _finding_card(finding: Finding) -> str:
    severity_class = SEVERITY_CLASSES.get(finding.severity, "")
    where = []
    if finding.lines:
        where.append(f"{'line' if len(finding.lines) == 1 else 'lines'} {format_lines(finding.lines)}")
    if finding.statements:
        where.append(plural(len(finding.statements), "statement"))
    parts = [
        f'<div class="sm-card {severity_class}">'
        f"<b>{escape(finding.title)}</b>"
        f' <span class="sm-tag">{escape(finding.severity)}</span>'
        f' <span class="sm-tag">{escape(finding.rule)}</span>'
        + (f' <span class="sm-muted">{escape(", ".join(where))}</span>' if where else "")
        + f'<div style="white-space:pre-wrap">{prose(finding.message)}</div>'
    ]
    if finding.rewrite is not None:
        if finding.rewrite.explanation:
            parts.append(f"<div>{prose(finding.rewrite.explanation)}</div>")
        parts.append(_diff(finding.rewrite.diff().splitlines()))
    if finding.fix:
        code_only = "`" not in finding.fix
        fix = f"<pre>{escape(finding.fix)}</pre>" if code_only else f"<div>{prose(finding.fix)}</div>"
        parts.append(f"<div>Fix:</div>{fix}")
    parts.append("</div>")
    return "".join(parts)


def _diff(lines: Iterable[str]) -> str:
    rendered = []
    for line in lines:
        if line.startswith(("+++", "---")):
            rendered.append(f"<span class='sm-muted'>{escape(line)}</span>")
        elif line.startswith("@@"):
            rendered.append(f"<span class='sm-hunk'>{escape(line)}</span>")
        elif line.startswith("+"):
            rendered.append(f"<span class='sm-add'>{escape(line)}</span>")
        elif line.startswith("-"):
            rendered.append(f"<span class='sm-del'>{escape(line)}</span>")
        else:
            rendered.append(escape(line))
    return f"<pre class='sm-diff'>{chr(10).join(rendered)}</pre>"


def _warning_text(warning: CapturedWarning) -> str:
    where = []
    if warning.line is not None:
        where.append(f"line {warning.line}")
    if warning.filename:
        where.append(warning.filename)
    place = f" <span class='sm-muted'>({escape(', '.join(where))})</span>" if where else ""
    return f"<b>{escape(warning.category)}</b>: {escape(warning.message)}{place}"
