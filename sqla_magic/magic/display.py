"""What the front end is given: one output per report, and the live view's kernel side.

Renderers return strings or a widget and know nothing of IPython; choosing between them
for the running shell, reading the cell id the kernel saw, and giving the widget its way
to run on the kernel's main thread happen here.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

from sqla_magic.model import Report


def report_bundle(report: Report, widget: Any = None) -> dict[str, Any]:
    """The one output of a report: its static renderings, marked for the widget to mount on.

    No widget-view entry: front ends would pick it and, once the kernel is gone (a
    reopened notebook, nbconvert), show "model not found" instead of the report.  The
    live view is mounted by the widget's own script on the element carrying
    `widget.mount_class`, and only while the kernel answers.
    """
    from sqla_magic.render.html import render_fragment
    from sqla_magic.render.text import render_text

    html = render_fragment(report)
    if widget is not None:
        html = f'<div class="{widget.mount_class}">{html}</div>'
    return {"text/html": html, "text/plain": render_text(report)}


def display_report(report: Report, shell: Any, verify: Any = None) -> None:
    """Show `report` with the live view in a notebook kernel, as text/HTML anywhere else.

    `verify` is what the view's Try it calls; the view runs it on the kernel's main thread.
    """
    from IPython.display import display

    kernel = getattr(shell, "kernel", None)
    if kernel is None:  # terminal IPython: no front end for widgets
        display(report)
        return
    try:
        from sqla_magic._compat import main_thread_scheduler
        from sqla_magic.render.widget import report_widget

        widget = report_widget(report, cell_id(shell), verify=verify, schedule=main_thread_scheduler(kernel))
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
