"""The notebook view: an anywidget that shows a Report in tabs and offers one-click rewrites.

The Report stays in the kernel.  The widget syncs only view state (the open tab, the
apply mode) and the small header; the browser asks for each tab, page or call-tree
branch with a custom comm message and gets back a payload from `view_model`.

One-click rewrites, and why they work the way they do:

- **Apply** is done entirely in the browser: the front end reaches the notebook's shared
  model through the widget manager (JupyterLab 4 / Notebook 7), finds the profiled cell by
  the id the kernel saw in the execute request's metadata, and inserts the rewritten cell
  below it (or replaces its source).  The rewritten code travels kernel → browser inside
  the findings payload; nothing travels back.
- A button click reaches the kernel as a *comm message*, not an execute request, so
  `set_next_input` must never be called from one: its payload rides on the next execute
  reply and would overwrite whatever cell the user runs next.  `%sqlprofile_apply N` is the
  route for front ends the widget cannot drive: it runs as an ordinary cell, where
  `set_next_input` is safe.
- **Try it** sends only the finding's index; the kernel re-runs the rewrite it already
  holds with the `verify` callback the magic hands in (`sqla_magic.verify`, bound to the
  user namespace) and answers with before/after figures.
- **Copy** is `navigator.clipboard.writeText` from the click handler.

Nothing the browser sends is code or SQL: requests are a name with numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Optional

from sqla_magic.model import Finding, Report
from sqla_magic.render import view_model

VERIFY_MISSING = (
    "Trying a rewrite needs the kernel that made this report. "
    "Use Apply (or %sqlprofile_apply N) and run the new cell with %%sqlprofile to compare."
)

STATIC = Path(__file__).parent / "static"
"""The browser half: an ES module and its style, plain files with no build step."""

_widget_class: Optional[type] = None


def report_widget(report: Report, cell_id: Optional[str] = None, verify: Optional[Verifier] = None) -> Any:
    """A widget showing `report`; `cell_id` is the notebook cell that was profiled, `verify`
    what Try it calls (None: Try it explains that it cannot run here)."""
    return _class()(report, cell_id=cell_id or "", verify=verify)


def _class() -> type:
    """The widget class, built on first use so that importing this module needs no anywidget."""
    global _widget_class
    if _widget_class is None:
        _widget_class = _build_class()
    return _widget_class


def _build_class() -> type:
    import anywidget
    import traitlets

    class ReportWidget(anywidget.AnyWidget):
        """The view of one Report; view state only, the data answers requests from `view`."""

        _esm = STATIC / "widget.js"
        _css = STATIC / "widget.css"
        header = traitlets.Dict().tag(sync=True)
        cell_id = traitlets.Unicode("").tag(sync=True)
        tab = traitlets.Unicode("").tag(sync=True)
        apply_mode = traitlets.Unicode("below").tag(sync=True)

        def __init__(self, report: Report, cell_id: str = "", verify: Optional[Verifier] = None) -> None:
            self.view = view_model.ReportView(report)
            self.verify = verify
            super().__init__(header=self.view.header(), cell_id=cell_id)
            self.on_msg(self._on_request)

        @property
        def report(self) -> Report:
            return self.view.report

        def _on_request(self, _widget: Any, content: Any, _buffers: Any) -> None:
            if not isinstance(content, Mapping) or "request" not in content:
                return
            reply: dict[str, Any] = {"reply_to": content.get("id")}
            try:
                reply["payload"] = self.answer(str(content["request"]), content.get("args") or {})
            except Exception as problem:  # the view shows the error in place of the tab
                reply["error"] = f"{type(problem).__name__}: {problem}"
            self.send(reply)

        def answer(self, kind: str, args: Mapping[str, Any]) -> Any:
            if kind == "verify":
                return view_model.clean(try_rewrite(self.report, int(args["finding"]), self.verify))
            return self.view.answer(kind, args)

    return ReportWidget


# -- Try it --------------------------------------------------------------------------------

Verifier = Callable[[Finding], Any]
"""Re-runs a finding's cell and its rewrite (the magic hands in `sqla_magic.verify.verify`
bound to the user namespace); returns a `Verification` or anything with its fields."""


def try_rewrite(report: Report, index: int, verify: Optional[Verifier]) -> dict[str, Any]:
    """Re-run finding `index`'s rewrite with `verify` and compare the runs.

    Degrades to a message (never an exception) when there is no verifier, the finding has
    no rewrite, or verification fails: the button must always say what happened.
    """
    if not 0 <= index < len(report.findings) or report.findings[index].rewrite is None:
        return {"ok": False, "message": "This finding has no rewrite to try.", "rows": []}
    if verify is None:
        return {"ok": False, "message": VERIFY_MISSING, "rows": []}
    try:
        result = verify(report.findings[index])
    except Exception as problem:
        message = f"The rewrite could not be tried: {type(problem).__name__}: {problem}"
        return {"ok": False, "message": message, "rows": []}
    return _outcome(report, result)


def _outcome(report: Report, result: Any) -> dict[str, Any]:
    """Before/after figures from the verification result (or from two Reports)."""
    if isinstance(result, Report):
        before, after = report, result
    else:
        before, after = _field(result, "before"), _field(result, "after")
    verified = _field(result, "verified")
    reason = _field(result, "reason")
    notice = _field(result, "notice")
    notes = [notice] if isinstance(notice, str) and notice else []
    same_result = _field(result, "same_result") if verified is not False else None
    if same_result is True:
        notes.append("Both versions give the same result.")
    elif same_result is False:
        notes.append("The rewritten cell gives a DIFFERENT result: check it before applying.")
    if isinstance(before, Report) and isinstance(after, Report):
        rows = view_model.comparison(before, after)
    elif before is not None and after is not None:
        rows = view_model.run_comparison(before, after)
    else:
        rows = []
    if verified is False or not rows:
        why = reason if isinstance(reason, str) and reason else "verification gave no figures"
        return {"ok": False, "message": f"Not verified: {why}.", "rows": rows, "notes": notes}
    message = "Ran the original and the rewritten cell, each rolled back afterwards:"
    return {"ok": True, "message": message, "rows": rows, "notes": notes}


def _field(result: Any, name: str) -> Any:
    return result.get(name) if isinstance(result, Mapping) else getattr(result, name, None)
