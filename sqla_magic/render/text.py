"""The plain-text report: what a terminal IPython or `print(report)` shows.

Aimed at one screen for a typical cell: every section is capped, so a report with
100k statements or a huge call tree still prints a few dozen lines.
"""

from __future__ import annotations

import textwrap

from sqla_magic.model import CallNode, Finding, Memory, Report, statement_rows
from sqla_magic.render.escapes import visible
from sqla_magic.render.summary import (
    LAYER_TITLES,
    StatementGroups,
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
    node_place,
    one_line_sql,
    plural,
    shorten,
    slowest_statements,
    tree_size,
    walk_chosen,
)

WIDTH = 100
BAR_WIDTH = 60
MAX_GROUPS = 8
MAX_SLOWEST = 5
MAX_TREE_NODES = 15
MAX_MEMORY_LINES = 20
MAX_DIFF_LINES = 30
MAX_LISTED = 10

LAYER_MARKS = {
    "database": "D",
    "fetch": "F",
    "compile": "C",
    "orm_load": "O",
    "flush": "U",
    "mapper_config": "M",
    "python": "P",
}


def render_text(report: Report) -> str:
    """The whole report as plain text, one section after another."""
    sections = [
        _header(report),
        _layers(report),
        _groups(report, group_statements(report, MAX_GROUPS)),
        _requests(report),
        _slowest(report),
        _call_tree(report.call_tree),
        _memory(report.memory),
        _plan_warnings(report),
        _findings(report),
        _warnings(report),
        _notes(report),
    ]
    return visible("\n\n".join(section for section in sections if section) + "\n")


def _requests(report: Report) -> str:
    requests = group_requests(report)
    if not requests:
        return ""
    served = sum(len(r.indexes) for r in requests)
    lines = [
        f"Requests ({plural(len(requests), 'test-client request')}, "
        f"{served} of {plural(len(report.statements), 'statement')}), in the order they ran",
        f"  {'statements':>10} {'total ms':>9} {'rows':>8} {'shapes':>6} {'repeats':>7}  request",
    ]
    for group in requests[:MAX_GROUPS]:
        lines.append(
            f"  {format_count(len(group.indexes)):>10} {format_ms(group.total_s):>9} "
            f"{format_count(group.rows):>8} {group.shapes:>6} {group.repeated:>7}  "
            f"{shorten(group.request, 60)}"
        )
    if len(requests) > MAX_GROUPS:
        lines.append(f"  … {plural(len(requests) - MAX_GROUPS, 'more request')}")
    return "\n".join(lines)


def _header(report: Report) -> str:
    figures = [
        f"{format_duration(report.wall_s)} wall",
        f"{format_duration(report.cpu_s)} CPU",
        plural(len(report.statements), "statement"),
        f"{format_count(report.rows)} rows",
        f"{format_count(report.objects)} ORM objects",
    ]
    if report.memory is not None:
        figures.append(f"peak {format_bytes(report.memory.peak_bytes, signed=True)}")
    figures.append(f"{len(report.findings)} finding{'' if len(report.findings) == 1 else 's'}")
    lines = ["sqla_magic report: " + ", ".join(figures)]
    if report.dropped_statements:
        lines.append(f"  ({plural(report.dropped_statements, 'more statement')} ran but were not kept)")
    if report.error is not None:
        where = f" (line {report.error.line})" if report.error.line is not None else ""
        lines.append(f"ERROR{where}: {report.error.type}: {shorten(report.error.message, WIDTH * 2)}")
    return "\n".join(lines)


def _layers(report: Report) -> str:
    shares = layer_shares(report)
    if not shares or sum(seconds for _, seconds, _ in shares) <= 0:
        return ""
    bar = _proportional_bar([(LAYER_MARKS.get(name, "?"), fraction) for name, _, fraction in shares])
    lines = [f"Layers  [{bar}]"]
    for name, seconds, fraction in shares:
        title = LAYER_TITLES.get(name, name)
        mark = LAYER_MARKS.get(name, "?")
        lines.append(f"  {mark} {title:<14} {format_duration(seconds):>10}  {fraction * 100:5.1f}%")
    return "\n".join(lines)


def _proportional_bar(parts: list[tuple[str, float]]) -> str:
    """A bar of BAR_WIDTH characters; every non-zero part gets at least one character."""
    widths = [max(round(fraction * BAR_WIDTH), 1) if fraction > 0 else 0 for _, fraction in parts]
    while sum(widths) > BAR_WIDTH:
        widest = widths.index(max(widths))
        widths[widest] -= 1
    if 0 < sum(widths) < BAR_WIDTH:
        widest = widths.index(max(widths))
        widths[widest] += BAR_WIDTH - sum(widths)
    return "".join(mark * width for (mark, _), width in zip(parts, widths, strict=True))


def _groups(report: Report, groups: StatementGroups) -> str:
    if not groups.shown:
        return "No SQL statements." if not report.dropped_statements else ""
    lines = [
        f"Statements by shape ({plural(groups.shapes, 'shape')}, "
        f"{plural(len(report.statements), 'execution')}), slowest total first",
        f"  {'count':>7} {'total ms':>9} {'mean ms':>8} {'rows':>8}  {'lines':<12} cache / origin",
    ]
    for group in groups.shown:
        lines.append(
            f"  {format_count(group.count):>7} {format_ms(group.total_s):>9} {format_ms(group.mean_s):>8} "
            f"{format_count(group.rows):>8}  {format_lines(group.lines, 3):<12} "
            f"{format_cache(group.cache)} / {shorten(', '.join(group.origins), 50)}"
            + (f" / {group.errors} failed" if group.errors else "")
        )
        lines.append(f"          {one_line_sql(group.sql, WIDTH - 10)}")
    if groups.hidden_shapes:
        lines.append(
            f"  … {plural(groups.hidden_shapes, 'more shape')}, "
            f"{plural(groups.hidden_executions, 'execution')}, {format_duration(groups.hidden_s)}"
        )
    return "\n".join(lines)


def _slowest(report: Report) -> str:
    if len(report.statements) < 2:
        return ""
    lines = ["Slowest statements"]
    for index in slowest_statements(report, MAX_SLOWEST):
        statement = report.statements[index]
        line = f"line {statement.line}" if statement.line is not None else "no line"
        rows = format_count(statement_rows(statement))
        lines.append(
            f"  #{index + 1:<6} {format_ms(statement.duration_s):>8} ms {rows:>7} rows"
            f"  {line:<9} {shorten(statement.origin, 28):<28} {one_line_sql(statement.sql, 40)}"
        )
    return "\n".join(lines)


def _call_tree(root: CallNode | None) -> str:
    if root is None:
        return ""
    chosen = hot_nodes(root, MAX_TREE_NODES)
    lines = [
        "Call tree, hot path (> marks the profiled code's own frames)",
        f"  {'total ms':>9} {'self ms':>8} {'calls':>7}  function",
    ]
    for depth, node in walk_chosen(root, chosen):
        mark = ">" if node.kind == "cell" else " "
        place = node_place(node)
        label = shorten("  " * depth + node.name, 60)
        lines.append(
            f" {mark}{format_ms(node.total_s):>9} {format_ms(node.self_s):>8} {format_count(node.calls):>7}  "
            f"{label}" + (f"  ({place})" if place else "")
        )
    total_nodes = tree_size(root) if len(chosen) >= MAX_TREE_NODES else len(chosen)
    if total_nodes > len(chosen):
        lines.append(f"  … {format_count(total_nodes - len(chosen))} smaller nodes not shown")
    return "\n".join(lines)


def _memory(memory: Memory | None) -> str:
    if memory is None:
        return ""
    lines = [f"Memory: peak {format_bytes(memory.peak_bytes, signed=True)} ({memory.method})"]
    if memory.lines:
        shown = list(memory.lines)
        if len(shown) > MAX_MEMORY_LINES:
            largest = sorted(shown, key=lambda m: -abs(m.increment_bytes))[:MAX_MEMORY_LINES]
            shown = sorted(largest, key=lambda m: m.line)
        lines.append(f"  {'line':>5} {'increment':>11} {'total':>11} {'runs':>6}  source")
        for entry in shown:
            lines.append(
                f"  {entry.line:>5} {format_bytes(entry.increment_bytes, signed=True):>11} "
                f"{format_bytes(entry.total_bytes):>11} {format_count(entry.occurrences):>6}  "
                f"{shorten(entry.source.rstrip(), WIDTH - 40)}"
            )
        if len(memory.lines) > len(shown):
            lines.append(f"  … {len(memory.lines) - len(shown)} lines with smaller increments not shown")
    return "\n".join(lines)


def _plan_warnings(report: Report) -> str:
    lines = []
    for plan in report.plans:
        where = f"statement #{plan.statement + 1}" if plan.statement is not None else plan.fingerprint[:12]
        for warning in plan.warnings:
            lines.append(f"  {where} [{plan.dialect}] {warning.kind}: {shorten(warning.message, WIDTH)}")
    if not lines:
        return ""
    listed = lines[:MAX_LISTED]
    if len(lines) > MAX_LISTED:
        listed.append(f"  … {len(lines) - MAX_LISTED} more plan warnings")
    return "\n".join(["EXPLAIN warnings", *listed])


def _findings(report: Report) -> str:
    if not report.findings:
        return ""
    lines = [f"Findings ({len(report.findings)})"]
    order = findings_by_severity(report)
    for index in order[:MAX_LISTED]:
        lines.extend(_finding(report.findings[index]))
    if len(order) > MAX_LISTED:
        lines.append(f"  … {len(order) - MAX_LISTED} more findings")
    return "\n".join(lines)


def _finding(finding: Finding) -> list[str]:
    where = ""
    if finding.lines:
        where = f" (line{'s' if len(finding.lines) > 1 else ''} {format_lines(finding.lines)})"
    lines = [f"  [{finding.severity.upper()}] {finding.title}{where}  <{finding.rule}>"]
    for paragraph in finding.message.splitlines():
        lines.extend(textwrap.wrap(paragraph, WIDTH, initial_indent="      ", subsequent_indent="      "))
    if finding.rewrite is not None:
        if finding.rewrite.explanation:
            lines.append(f"      Rewrite: {finding.rewrite.explanation}")
        diff = finding.rewrite.diff().splitlines()
        lines.extend(f"      {text}" for text in diff[:MAX_DIFF_LINES])
        if len(diff) > MAX_DIFF_LINES:
            lines.append(f"      … {len(diff) - MAX_DIFF_LINES} more diff lines")
    if finding.fix:
        lines.append("      Fix:")
        lines.extend(f"        {text}" for text in finding.fix.splitlines()[:MAX_DIFF_LINES])
    return lines


def _warnings(report: Report) -> str:
    if not report.warnings:
        return ""
    lines = [f"Warnings ({len(report.warnings)})"]
    for warning in report.warnings[:MAX_LISTED]:
        where = f" (line {warning.line})" if warning.line is not None else ""
        lines.append(f"  {warning.category}{where}: {shorten(' '.join(warning.message.split()), WIDTH)}")
    if len(report.warnings) > MAX_LISTED:
        lines.append(f"  … {len(report.warnings) - MAX_LISTED} more warnings")
    return "\n".join(lines)


def _notes(report: Report) -> str:
    if not report.notes:
        return ""
    return "\n".join(["Notes", *(f"  - {note}" for note in report.notes)])
