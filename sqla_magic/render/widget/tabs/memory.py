"""The Memory tab: the peak, how it was measured, and the per-line table when recorded."""

from __future__ import annotations

from typing import Any

from sqla_magic.model import Report
from sqla_magic.render.summary import (
    format_bytes,
    format_count,
    memory_explanation,
    memory_label,
)
from sqla_magic.render.view_model import (
    MAX_MEMORY_LINES,
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


TAB = Tab(
    name="memory",
    title="Memory",
    count=lambda report: "" if report.memory is not None else "off",
    requests={"memory": lambda view, args: clean(memory(view.report))},
)
