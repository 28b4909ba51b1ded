"""What the front end is given: one output per report, and the live view's kernel side.

Renderers return strings or a widget and know nothing of IPython; choosing between them
for the running shell, reading the cell id the kernel saw, and giving the widget its way
to run on the kernel's main thread happen here.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

from sqla_magic.model import Comparison, Report


def report_bundle(
    report: Report, widget: Any = None, comparison: Optional[Comparison] = None
) -> dict[str, Any]:
    """The one output of a report: its static renderings, marked for the widget to mount on.

    No widget-view entry: front ends would pick it and, once the kernel is gone (a
    reopened notebook, nbconvert), show "model not found" instead of the report.  The
    live view is mounted by the widget's own script on the element carrying
    `widget.mount_class`, and only while the kernel answers.
    """
    from sqla_magic.render.compare import render_comparison_text
    from sqla_magic.render.html import render_fragment
    from sqla_magic.render.text import render_text

    html = render_fragment(report, comparison)
    if widget is not None:
        html = f'<div class="{widget.mount_class}">{html}</div>'
    text = render_text(report)
    if comparison is not None:
        text += "\n" + render_comparison_text(comparison)
    return {"text/html": html, "text/plain": text}


def display_report(
    report: Report, shell: Any, verify: Any = None, comparison: Optional[Comparison] = None
) -> None:
    """Show `report` with the live view in a notebook kernel, as text/HTML anywhere else.

    `verify` is what the view's Try it calls; the view runs it on the kernel's main thread.
    `comparison` (the run against its `--compare` baseline) is shown in the same output.
    """
    from IPython.display import display

    kernel = getattr(shell, "kernel", None)
    if kernel is None:  # terminal IPython: no front end for widgets
        if comparison is None:
            display(report)
        else:
            display(report_bundle(report, comparison=comparison), raw=True)
        return
    try:
        from sqla_magic._compat import main_thread_scheduler
        from sqla_magic.render.widget import report_widget
        from sqla_magic.verify import CONFIRM

        widget = report_widget(
            report,
            cell_id(shell),
            verify=verify,
            schedule=main_thread_scheduler(kernel),
            comparison=comparison,
            confirm=CONFIRM,
        )
    except ImportError as problem:  # anywidget/ipywidgets missing: the static view still works
        print(f"sqlprofile: showing the static report ({problem})", file=sys.stderr)
        display(report_bundle(report, comparison=comparison), raw=True)
        return
    display(report_bundle(report, widget, comparison), raw=True)


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


def show(report: Report, shell: Any, baseline: Optional[Report] = None, names: Any = None) -> None:
    """Display `report` and, with a `--compare` baseline, how it differs from it, in one output.

    A renderer that fails prints why: the cell's own outcome must not be lost to it.
    """
    comparison = None
    if baseline is not None:
        try:
            comparison = baseline.compare(report, names=names)
        except Exception as problem:
            print(f"sqlprofile: could not compare ({type(problem).__name__}: {problem})", file=sys.stderr)
    try:
        display_report(report, shell, verify=verifier(shell), comparison=comparison)
    except Exception as problem:
        print(
            f"sqlprofile: could not display the report ({type(problem).__name__}: {problem}); "
            "it is stored in sqla_magic.last_report()",
            file=sys.stderr,
        )


def verifier(shell: Any) -> Any:
    """What the widget's Try it calls: `verify` on this kernel's namespace."""

    def verify_in_namespace(finding: Any) -> Any:
        from sqla_magic.magic.settings import loaded_settings
        from sqla_magic.pipeline import Options, finish
        from sqla_magic.verify import verify

        settings = loaded_settings(shell)
        thresholds = settings.thresholds() if settings is not None else None
        options = Options(explain=False, thresholds=thresholds)
        # Both runs get the rules, so the comparison can say which findings the rewrite fixed.
        return verify(finding, namespace=shell.user_ns, analyse=lambda run: finish(run, options))

    return verify_in_namespace
