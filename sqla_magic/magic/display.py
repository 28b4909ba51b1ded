"""What the front end is given: the widget with the static renderings beside it.

Renderers return strings or a widget and know nothing of IPython; choosing between them
for the running shell, and reading the cell id the kernel saw, happens here.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

from sqla_magic.model import Report

WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


def report_bundle(report: Report, widget: Any) -> dict[str, Any]:
    """The widget view with the static renderings beside it in one mime bundle.

    Widget front ends pick the widget; nbconvert, GitHub and terminals, which cannot
    render it (or have no saved widget state), fall back to `text/html` / `text/plain`.
    """
    from sqla_magic.render.html import render_fragment
    from sqla_magic.render.text import render_text

    return {
        WIDGET_VIEW_MIME: {"version_major": 2, "version_minor": 1, "model_id": widget.model_id},
        "text/html": render_fragment(report),
        "text/plain": render_text(report),
    }


def display_report(report: Report, shell: Any, verify: Any = None) -> None:
    """Show `report` as the widget in a notebook kernel, as text/HTML anywhere else."""
    from IPython.display import display

    if getattr(shell, "kernel", None) is None:  # terminal IPython: no front end for widgets
        display(report)
        return
    try:
        from sqla_magic.render.widget import report_widget

        widget = report_widget(report, cell_id(shell), verify)
    except ImportError as problem:  # anywidget/ipywidgets missing: the static view still works
        print(f"sqlprofile: showing the static report ({problem})", file=sys.stderr)
        display(report)
        return
    display(report_bundle(report, widget), raw=True)


def cell_id(shell: Any) -> Optional[str]:
    """The notebook cell id of the running execute request (ipykernel 6+, JupyterLab 3+)."""
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    try:
        parent = kernel.get_parent()
    except Exception:
        return None
    metadata = parent.get("metadata") or {}
    value = metadata.get("cellId")
    return str(value) if value else None
