"""The HTML report: a self-contained fragment for notebooks and a standalone page for files.

The static report is the notebook view without a kernel: the header, then each tab of
`render.widget.tabs.TABS` in order (findings first), each written by its tab from the same
payloads the widget shows, so a tab added there appears in both.  No JavaScript and no
external resources: expanding is done with `<details>`, bars with CSS flex, so the output
survives nbconvert, static notebook viewers and offline viewing.  Every string comes
through the payloads' `clean()` and leaves through `markup.escape()`.  Sections are capped
(groups, executions, call-tree nodes, plans) so a report with tens of thousands of
statements still renders in a fraction of a second.
"""

from __future__ import annotations

from typing import Any, Optional

from sqla_magic.model import Comparison, Report
from sqla_magic.render.escapes import visible
from sqla_magic.render.markup import PAGE_STYLE, ROOT_CLASS, STYLE, escape
from sqla_magic.render.view_model import ReportView, clean
from sqla_magic.render.widget.tabs import TABS
from sqla_magic.render.widget.tabs.compare import comparison_html, comparison_view

__all__ = [
    "ROOT_CLASS",
    "render_comparison_fragment",
    "render_comparison_page",
    "render_fragment",
    "render_page",
]


def render_fragment(report: Report, comparison: Optional[Comparison] = None) -> str:
    """A `<div>` with its own scoped style, for `_repr_html_` and notebook outputs.

    `comparison` (the run against its `--compare` baseline) adds the Compare section.
    """
    view = ReportView(report, comparison=comparison)
    sections = [header(view.header()), *(tab.static(view) for tab in TABS if tab.shown(view))]
    return _wrapped("\n".join(section for section in sections if section))


def render_page(report: Report, comparison: Optional[Comparison] = None) -> str:
    """A standalone HTML page with the same sections, viewable offline."""
    title = "sqla_magic report" + (f" — {report.started_at}" if report.started_at else "")
    return _page(title, render_fragment(report, comparison))


def render_comparison_fragment(comparison: Comparison) -> str:
    """A comparison on its own (`Comparison._repr_html_`), laid out as the Compare tab."""
    before, after = comparison.names
    title = f"<h2>Comparison: {escape(before)} → {escape(after)}</h2>"
    return _wrapped(title + "\n" + comparison_html(clean(comparison_view(comparison))))


def render_comparison_page(comparison: Comparison) -> str:
    before, after = comparison.names
    return _page(f"sqla_magic comparison — {before} → {after}", render_comparison_fragment(comparison))


def _wrapped(body: str) -> str:
    return visible(f'<div class="{ROOT_CLASS}">\n<style>{STYLE}</style>\n{body}\n</div>')


def _page(title: str, fragment: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>{PAGE_STYLE}</style>\n"
        "</head>\n<body>\n"
        f"{fragment}\n</body>\n</html>\n"
    )


def header(head: dict[str, Any]) -> str:
    """The header payload: title, headline figures, the layer bar, the error, the notes."""
    parts = ["<h2>sqla_magic report</h2>"]
    if head["context"]:
        parts.append(f'<div class="sm-muted">{escape(head["context"])}</div>')
    figures = [*head["figures"][:1], {"label": "CPU", "value": head["cpu"]}, *head["figures"][1:]]
    parts.append(
        '<div class="sm-figures">'
        + "".join(
            f'<div class="sm-figure"><b>{escape(f["value"])}</b>{escape(f["label"])}'
            + (f'<div class="sm-muted">{escape(f["detail"])}</div>' if f.get("detail") else "")
            + "</div>"
            for f in figures
        )
        + "</div>"
    )
    if head["error"]:
        error = head["error"]
        parts.append(
            f'<div class="sm-error"><b>{escape(error["title"])}</b>'
            f"<pre>{escape(error['message'])}</pre></div>"
        )
    parts.append(_layers(head["layers"]))
    if head["notes"]:
        items = "".join(f"<li>{escape(note)}</li>" for note in head["notes"])
        count = len(head["notes"])
        parts.append(
            f"<details><summary>{count} note{'s' if count > 1 else ''}</summary><ul>{items}</ul></details>"
        )
    return "\n".join(part for part in parts if part)


def _layers(layers: list[dict[str, Any]]) -> str:
    if not any(layer["share"] > 0 for layer in layers):
        return ""
    segments = []
    legend = []
    for layer in layers:
        tooltip = f"{layer['title']}: {layer['seconds']} ({layer['percent']})"
        if layer["share"] > 0:
            label = escape(layer["title"]) if layer["share"] >= 0.08 else ""
            segments.append(
                f'<span style="flex:0 0 {layer["share"] * 100:.3f}%;background:{escape(layer["colour"])}" '
                f'title="{escape(tooltip)}">{label}</span>'
            )
        legend.append(
            f'<tr><td><span class="sm-swatch" style="background:{escape(layer["colour"])}"></span>'
            f"{escape(layer['title'])}</td>"
            f'<td class="n">{escape(layer["seconds"])}</td><td class="n">{escape(layer["percent"])}</td></tr>'
        )
    return (
        "<h3>Where the time went</h3>"
        f'<div class="sm-bar">{"".join(segments)}</div>'
        f"<table>{''.join(legend)}</table>"
    )
