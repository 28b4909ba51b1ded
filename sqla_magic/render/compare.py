"""Two runs side by side (`Report.compare`): plain text, and the wording every view uses.

Times and memory within run-to-run noise read "no clear change" rather than a percentage,
so a reader does not chase a difference the next run would not repeat.  The HTML and the
widget's Compare tab lay out the payload of `render.widget.tabs.compare`.
"""

from __future__ import annotations

from sqla_magic.model import Change, Comparison
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
