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

import weakref
from collections.abc import Mapping
from typing import Any, Optional

from sqla_magic.model import CallNode, Comparison, Report
from sqla_magic.render.escapes import visible
from sqla_magic.render.summary import (
    LAYER_COLOURS,
    LAYER_TITLES,
    OTHER_LAYER_COLOUR,
    WALL_NOTE,
    StatementGroup,
    format_bytes,
    format_count,
    format_duration,
    layer_shares,
    memory_label,
)

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


# -- text safety ------------------------------------------------------------------------


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
    return visible(text)


# -- header -----------------------------------------------------------------------------


def header(view: ReportView) -> dict[str, Any]:
    """The headline figures, the layer bar, and what each tab holds (for its label)."""
    report = view.report
    figures: list[dict[str, Any]] = [
        {
            "label": "wall time",
            "value": format_duration(report.wall_s),
            "detail": WALL_NOTE,
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
        figures.append(
            {
                "label": memory_label(report.memory),
                "value": format_bytes(report.memory.peak_bytes, signed=True),
                "detail": (
                    "tracemalloc, the profiler's records left out"
                    if report.memory.method == "tracemalloc"
                    else "resident set"
                ),
            }
        )
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
    from sqla_magic.render.widget.tabs import TABS

    tabs = [
        {"name": tab.name, "title": tab.title, "count": tab.count(view)} for tab in TABS if tab.shown(view)
    ]
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
        "first_tab": "compare" if view.comparison else "findings" if report.findings else "statements",
        "notes": notes,
    }


def _shown_file(filename: str) -> str:
    """The profiled file, unless it is a notebook cell's pseudo-file (its name means nothing)."""
    return "" if "ipykernel_" in filename or filename.startswith("<") else filename


# -- Apply from a cell -----------------------------------------------------------------


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


# -- the state behind one view --------------------------------------------------------------


class ReportView:
    """Answers the browser's requests for one report; holds only caches, never view state.

    Each request is answered by the tab that owns it (`render.widget.tabs.TABS`).  Groups
    are built on the first request for them, and call-tree nodes get ids as they are sent,
    so opening the view costs the header and the first tab, whatever the size of the
    report.  With `hold=False` the report is held weakly, so a view kept by a long-lived
    widget does not keep its report (and its statements) alive.
    """

    def __init__(self, report: Report, hold: bool = True, comparison: Optional[Comparison] = None) -> None:
        self._held: Optional[Report] = report if hold else None
        self._ref = weakref.ref(report)
        self.comparison = comparison
        """How this run differs from its baseline (`--compare NAME`), for the Compare tab."""
        self.groups: Optional[list[StatementGroup]] = None
        """The statement groups, built on the first request for them."""
        self.order: dict[str, list[int]] = {}
        """Group indexes by sort key."""
        self.nodes: list[CallNode] = []
        """Call-tree nodes by the id they were sent with."""

    @property
    def report(self) -> Report:
        report = self._ref()
        if report is None:
            raise LookupError("the report is no longer held by the kernel")
        return report

    def header(self) -> dict[str, Any]:
        return clean(header(self))  # type: ignore[no-any-return]

    def answer(self, kind: str, args: Mapping[str, Any]) -> Any:
        """The payload for one request of the browser, cleaned for display."""
        from sqla_magic.render.widget.tabs import REQUESTS

        answer = REQUESTS.get(kind)
        if answer is None:
            raise ValueError(f"unknown request {kind!r}")
        return answer(self, args)
