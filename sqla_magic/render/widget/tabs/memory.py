"""The Memory tab: the peak, how it was measured, and the per-line table when recorded."""

from __future__ import annotations

from typing import Any

from sqla_magic.model import Report
from sqla_magic.render.markup import escape, more, table
from sqla_magic.render.summary import (
    WALL_NOTE,
    format_bytes,
    format_count,
    memory_explanation,
    memory_label,
    plural,
)
from sqla_magic.render.view_model import (
    MAX_MEMORY_LINES,
    ReportView,
    clean,
)
from sqla_magic.render.widget.tabs.tab import Tab


def memory(report: Report) -> dict[str, Any]:
    if report.memory is None:
        return {"present": False, "message": "Memory was not traced (--no-memory)."}
    mem = report.memory
    lines = list(mem.lines or ())
    return {
        "present": True,
        "peak": format_bytes(mem.peak_bytes, signed=True),
        "method": mem.method,
        "label": memory_label(mem),
        "explanation": memory_explanation(mem),
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


def static(view: ReportView) -> str:
    data = clean(memory(view.report))
    if not data["present"]:
        return ""
    parts = [
        "<h3>Memory</h3>",
        f"<div>{escape(data['peak'])} {escape(data['label'])}</div>",
        f'<div class="sm-muted">Measured as {escape(data["explanation"])}.</div>',
        f'<div class="sm-muted">Wall time: {escape(WALL_NOTE)}.</div>',
    ]
    if data["hint"]:
        parts.append(f'<div class="sm-muted">{escape(data["hint"])}</div>')
    if data["lines"]:
        rows = [
            [escape(line[key]) for key in ("line", "increment", "total", "peak", "runs")]
            + [f"<code>{escape(line['source'])}</code>"]
            for line in data["lines"]
        ]
        parts.append(table(("line", "increment", "total", "peak", "runs", "source"), rows, (True,) * 5))
    if data["more_lines"]:
        parts.append(more(plural(data["more_lines"], "more line")))
    return "\n".join(parts)


TAB = Tab(
    name="memory",
    title="Memory",
    count=lambda view: "" if view.report.memory is not None else "off",
    requests={"memory": lambda view, args: clean(memory(view.report))},
    static=static,
)
