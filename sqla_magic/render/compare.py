"""Two runs side by side (`Report.compare`): plain text and HTML.

Times and memory within run-to-run noise read "no clear change" rather than a percentage,
so a reader does not chase a difference the next run would not repeat.  The HTML uses
the report's own style, so a comparison can sit beside or inside a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqla_magic.model import Change, Comparison, Finding, ShapeChange
from sqla_magic.render.html import ROOT_CLASS, SEVERITY_CLASSES, STYLE, escape
from sqla_magic.render.summary import (
    LAYER_TITLES,
    format_bytes,
    format_count,
    format_duration,
    one_line_sql,
    plural,
)

MAX_SHAPES = 20
MAX_FINDINGS = 20
SQL_WIDTH = 70

VERDICT_CLASSES = {
    "better": "sm-better",
    "worse": "sm-worse",
    "same": "sm-muted",
    "no clear change": "sm-muted",
    "not measured": "sm-muted",
}

COMPARE_STYLE = (Path(__file__).parent / "static" / "compare.css").read_text(encoding="utf-8")
"""What a comparison adds to the report's style: better in green, worse in red."""


def value_text(change: Change, value: float | None) -> str:
    if value is None:
        return "-"
    if change.unit == "seconds":
        return format_duration(value)
    if change.unit == "bytes":
        return format_bytes(value)
    return format_count(int(value))


def change_text(change: Change) -> str:
    """`-299 (-99%)`, `-105 ms (-88%)`, `no clear change`, `same`, `not measured`."""
    delta = change.delta
    if change.verdict in ("same", "no clear change", "not measured") or delta is None:
        return change.verdict
    if change.unit == "seconds":
        amount = ("+" if delta > 0 else "-") + format_duration(abs(delta))
    elif change.unit == "bytes":
        amount = format_bytes(delta, signed=True)
    else:
        amount = f"{int(delta):+,}"
    ratio = change.ratio
    share = f" ({(ratio - 1) * 100:+.0f}%)" if ratio is not None else ""
    return f"{amount}{share}, {change.verdict}"


def measure_title(change: Change) -> str:
    return LAYER_TITLES.get(change.name, change.name)


def shape_summary(comparison: Comparison) -> str:
    counts = {status: 0 for status in ("removed", "added", "changed")}
    for shape in comparison.shapes:
        counts[shape.status] += 1
    parts = [f"{count} {status}" for status, count in counts.items() if count]
    parts.append(f"{comparison.unchanged_shapes} unchanged")
    return ", ".join(parts)


def findings_summary(comparison: Comparison) -> str:
    return f"{len(comparison.fixed)} fixed, {len(comparison.new)} new, {len(comparison.kept)} still there"


# -- text ---------------------------------------------------------------------------------


def render_comparison_text(comparison: Comparison) -> str:
    before, after = comparison.names
    lines = [f"sqla_magic comparison: {before} → {after}", ""]
    rows = [("", before, after, "change")]
    for change in comparison.changes():
        title = ("  " if change in comparison.layers else "") + measure_title(change)
        rows.append(
            (title, value_text(change, change.before), value_text(change, change.after), change_text(change))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for title, old, new, what in rows:
        lines.append(f"{title:<{widths[0]}}  {old:>{widths[1]}}  {new:>{widths[2]}}  {what}".rstrip())
    lines += ["", f"Statement shapes: {shape_summary(comparison)}"]
    for shape in comparison.shapes[:MAX_SHAPES]:
        lines.append(
            f"  {shape.status:<8} {shape.before:>6,} → {shape.after:<6,} {one_line_sql(shape.sql, SQL_WIDTH)}"
        )
    if len(comparison.shapes) > MAX_SHAPES:
        lines.append(f"  … {plural(len(comparison.shapes) - MAX_SHAPES, 'more shape')}")
    lines += ["", f"Findings: {findings_summary(comparison)}"]
    for label, findings in (("fixed", comparison.fixed), ("new", comparison.new), ("still", comparison.kept)):
        for finding in findings[:MAX_FINDINGS]:
            lines.append(f"  {label:<6} [{finding.severity}] {finding.rule}: {finding.title}")
    return "\n".join(lines) + "\n"


# -- HTML ---------------------------------------------------------------------------------


def render_comparison_fragment(comparison: Comparison) -> str:
    """A `<div>` with its own scoped style, for notebooks and for the widget's Compare view."""
    style = STYLE + COMPARE_STYLE
    body = "\n".join([_measures(comparison), _shapes(comparison.shapes, comparison), _findings(comparison)])
    before, after = comparison.names
    title = f"<h2>Comparison: {escape(before)} → {escape(after)}</h2>"
    return f'<div class="{ROOT_CLASS}">\n<style>{style}</style>\n{title}\n{body}\n</div>'


def render_comparison_page(comparison: Comparison) -> str:
    before, after = comparison.names
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>sqla_magic comparison — {escape(before)} → {escape(after)}</title>\n"
        '</head>\n<body style="margin:16px">\n'
        f"{render_comparison_fragment(comparison)}\n</body>\n</html>\n"
    )


def _measures(comparison: Comparison) -> str:
    before, after = comparison.names
    head = f'<th class="n">{escape(before)}</th><th class="n">{escape(after)}</th>'
    rows = [f"<tr><th></th>{head}<th>change</th></tr>"]
    for change in comparison.changes():
        indent = "&nbsp;&nbsp;" if change in comparison.layers else ""
        rows.append(
            f"<tr><td>{indent}{escape(measure_title(change))}</td>"
            f'<td class="n">{escape(value_text(change, change.before))}</td>'
            f'<td class="n">{escape(value_text(change, change.after))}</td>'
            f'<td class="{VERDICT_CLASSES[change.verdict]}">{escape(change_text(change))}</td></tr>'
        )
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def _shapes(shapes: Sequence[ShapeChange], comparison: Comparison) -> str:
    before, after = comparison.names
    head = f"<h3>Statement shapes: {escape(shape_summary(comparison))}</h3>"
    if not shapes:
        return head
    rows = [
        f'<tr><th></th><th class="n">{escape(before)}</th><th class="n">{escape(after)}</th>'
        "<th>SQL</th><th>origin</th></tr>"
    ]
    for shape in shapes[:MAX_SHAPES]:
        # An added shape is often the one query that replaced a removed hundred: no colour.
        verdict = (
            "" if shape.status != "changed" else "sm-better" if shape.after < shape.before else "sm-worse"
        )
        rows.append(
            f'<tr><td class="{verdict}">{escape(shape.status)}</td>'
            f'<td class="n">{shape.before:,}</td><td class="n">{shape.after:,}</td>'
            f"<td><code>{escape(one_line_sql(shape.sql, 120))}</code></td>"
            f"<td>{escape(shape.origin)}</td></tr>"
        )
    more = ""
    if len(shapes) > MAX_SHAPES:
        more = f'<div class="sm-more">{escape(plural(len(shapes) - MAX_SHAPES, "more shape"))}</div>'
    return head + "\n<table>\n" + "\n".join(rows) + "\n</table>" + more


def _findings(comparison: Comparison) -> str:
    head = f"<h3>Findings: {escape(findings_summary(comparison))}</h3>"
    parts = [head]
    for label, findings in (
        ("fixed", comparison.fixed),
        ("new", comparison.new),
        ("still there", comparison.kept),
    ):
        parts += [_finding_line(label, finding) for finding in findings[:MAX_FINDINGS]]
    return "\n".join(parts)


def _finding_line(label: str, finding: Finding) -> str:
    severity = SEVERITY_CLASSES.get(finding.severity, "")
    verdict = {"fixed": "sm-better", "new": "sm-worse"}.get(label, "sm-muted")
    return (
        f'<div class="sm-card {severity}"><span class="{verdict}">{escape(label)}</span> '
        f"<b>{escape(finding.rule)}</b>: {escape(finding.title)}</div>"
    )
