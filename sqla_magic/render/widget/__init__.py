"""The notebook view: an anywidget that shows a Report in tabs and offers one-click rewrites.

One output per report.  The output's mime bundle holds only the static renderings
(`text/html`, `text/plain`); the widget has no view of its own in it.  The widget's
script, loaded when the kernel creates the widget, finds the static report by the mount
token both carry, asks the kernel for the header, and only once the kernel answers puts
the interactive view in its place.  So wherever no live kernel answers (a reopened
notebook after a restart, nbconvert's HTML, GitHub, a front end without widgets) the
static report is what is shown, and no "model not found" can appear.

The Report stays in the kernel, held weakly: the widget answers requests while the
report lives (the magic keeps the last few) and closes itself when the report is
dropped, which turns the view back into the static report.  The browser asks for each
tab, page or call-tree branch with a custom comm message and gets back a payload from
`view_model`.

Every kernel-side action of the view (answering a request, Try it) is handed to
`schedule`, which the display code sets to run it on the kernel's main thread, one at a
time and never while a cell runs: JupyterLab 4.6 delivers widget messages on a subshell
thread, where the user's objects (an in-memory SQLite connection) cannot be used.

One-click rewrites, and why they work the way they do:

- **Apply** is done entirely in the browser: the front end reaches the notebook's shared
  model through the widget manager (JupyterLab 4 / Notebook 7), finds the profiled cell by
  the id the kernel saw in the execute request's metadata, and inserts the rewritten cell
  below it (or replaces its source).  The rewritten code travels kernel → browser inside
  the findings payload, exactly as written (never shortened or cleaned for display).
- A button click reaches the kernel as a *comm message*, not an execute request, so
  `set_next_input` must never be called from one: its payload rides on the next execute
  reply and would overwrite whatever cell the user runs next.  `%sqlprofile_apply N` is the
  route for front ends the widget cannot drive: it runs as an ordinary cell, where
  `set_next_input` is safe.
- **Try it** sends only the finding's index; the kernel re-runs the rewrite it already
  holds with the `verify` callback the magic hands in (`sqla_magic.verify`, bound to the
  user namespace), on the kernel's main thread, and answers with before/after figures, or
  only the reason when it could not verify.
- **Copy** is `navigator.clipboard.writeText` from the click handler.
- A rewrite of a **module file** (`Rewrite.path`) is never applied silently: the view
  shows its diff, and only a `write-module` request carrying `confirm: true` (sent by the
  confirm button) writes the file, and only while the file still holds the text the
  rewrite was made from (`write_module`).  `%sqlprofile_apply N --write` is the same for
  front ends without the widget.

Nothing the browser sends is code or SQL: requests are a name with numbers.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tokenize
import uuid
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Optional

from sqla_magic.model import Finding, Report
from sqla_magic.render import view_model

STATIC = Path(__file__).parent / "static"
"""The browser half: an ES module and its style, plain files with no build step."""

MOUNT_CLASS_PREFIX = "sqm-mount-"
"""The static report's root carries this class plus the widget's token; the script mounts there."""

VERIFY_MISSING = (
    "Trying a rewrite needs the kernel that made this report. "
    "Use Apply (or %sqlprofile_apply N) and run the new cell with %%sqlprofile to compare."
)
REPORT_GONE = "This report is no longer held by the kernel (only the last few are kept)."

Verify = Callable[[Finding], Any]
"""Re-runs a finding's cell and its rewrite (the magic hands in `sqla_magic.verify.verify`
bound to the user namespace); returns a `Verification` or anything with its fields."""
Schedule = Callable[[Callable[[], None]], None]
"""Runs a job later on the kernel's main thread, one job or cell at a time."""

_widget_class: Optional[type] = None


def report_widget(
    report: Report,
    cell_id: Optional[str] = None,
    verify: Optional[Verify] = None,
    schedule: Optional[Schedule] = None,
) -> Any:
    """A widget showing `report`; `cell_id` is the notebook cell that was profiled.

    Without `schedule` requests are answered on the thread that receives them.
    """
    return _class()(report, cell_id=cell_id or "", verify=verify, schedule=schedule)


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
        mount = traitlets.Unicode("").tag(sync=True)
        tab = traitlets.Unicode("").tag(sync=True)
        apply_mode = traitlets.Unicode("below").tag(sync=True)

        def __init__(
            self,
            report: Report,
            cell_id: str = "",
            verify: Optional[Verify] = None,
            schedule: Optional[Schedule] = None,
        ) -> None:
            self._report = weakref.ref(report)
            self._view: Optional[view_model.ReportView] = view_model.ReportView(report, hold=False)
            self._verify = verify
            self._schedule = schedule
            super().__init__(header=self._view.header(), cell_id=cell_id, mount=uuid.uuid4().hex)
            self.on_msg(self._on_request)
            # Closing sends comm_close: the browser puts the static report back.
            weakref.finalize(report, _close_widget, weakref.ref(self))

        @property
        def report(self) -> Optional[Report]:
            """The report, while something else (the magic's history, a variable) holds it."""
            return self._report()

        @property
        def mount_class(self) -> str:
            return MOUNT_CLASS_PREFIX + self.mount

        def _on_request(self, _widget: Any, content: Any, _buffers: Any) -> None:
            if not isinstance(content, Mapping) or "request" not in content:
                return
            if self._schedule is None:
                self._reply(content)
            else:
                self._schedule(lambda: self._reply(content))

        def _reply(self, content: Mapping[str, Any]) -> None:
            reply: dict[str, Any] = {"reply_to": content.get("id")}
            try:
                reply["payload"] = self.answer(str(content["request"]), content.get("args") or {})
            except Exception as problem:  # the view shows the error in place of the tab
                reply["error"] = f"{type(problem).__name__}: {problem}"
            self.send(reply)

        def answer(self, kind: str, args: Mapping[str, Any]) -> Any:
            report = self.report
            if report is None or self._view is None:
                raise LookupError(REPORT_GONE)
            if kind == "hello":
                return self._view.header()
            if kind == "verify":
                return view_model.clean(try_rewrite(report, int(args["finding"]), self._verify))
            if kind == "write-module":
                if args.get("confirm") is not True:
                    return {"ok": False, "message": "Writing a module file needs an explicit confirm."}
                return write_module(report, int(args["finding"]))
            return self._view.answer(kind, args)

        def close(self) -> None:
            self._view = None
            super().close()

    return ReportWidget


def _close_widget(widget: Any) -> None:
    alive = widget()
    if alive is not None:
        alive.close()


# -- a module's rewrite -------------------------------------------------------------------


def write_module(report: Report, index: int) -> dict[str, Any]:
    """Write finding `index`'s rewrite into the module file it changes, once the user has
    seen the diff and confirmed.  Refused, with the reason, for a cell's rewrite and for a
    file that changed since the profile read it (the rewrite was made from that text)."""
    if not 0 <= index < len(report.findings):
        return {"ok": False, "message": f"No finding #{index + 1}."}
    rewrite = report.findings[index].rewrite
    if rewrite is None or rewrite.path is None:
        return {"ok": False, "message": "This finding has no rewrite of a module file."}
    path = rewrite.path
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        current = data.decode(encoding)
    except (OSError, SyntaxError, UnicodeDecodeError, LookupError) as problem:
        return {"ok": False, "message": f"{path} cannot be read: {problem}"}
    if current != rewrite.original:
        return {
            "ok": False,
            "message": f"{path} changed since it was profiled: profile again for a rewrite of the new text.",
        }
    temporary = f"{path}.sqla-magic-new"
    try:
        with open(temporary, "wb") as handle:
            handle.write(rewrite.rewritten.encode(encoding))
        shutil.copymode(path, temporary)
        os.replace(temporary, path)
    except OSError as problem:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        return {"ok": False, "message": f"{path} could not be written: {problem}"}
    return {
        "ok": True,
        "path": path,
        "message": f"Wrote {path}. Code already imported runs the old version until the module is "
        "reloaded (importlib.reload) or the kernel restarted.",
    }


# -- Try it --------------------------------------------------------------------------------


def try_rewrite(report: Report, index: int, verify: Optional[Verify]) -> dict[str, Any]:
    """Re-run finding `index`'s rewrite with `verify` and compare it with `report`.

    Degrades to a message (never an exception) when verification is not available, does
    not apply, or fails: the button must always say what happened.
    """
    if not 0 <= index < len(report.findings) or report.findings[index].rewrite is None:
        return {"ok": False, "message": "This finding has no rewrite to try.", "rows": []}
    if report.findings[index].rewrite.path is not None:  # type: ignore[union-attr]
        message = "This rewrite changes a module file; Try it re-runs cells only."
        return {"ok": False, "message": message, "rows": []}
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
    same_result = _field(result, "same_result")
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
    if verified is False or not rows:  # only the reason: figures of a failed run mislead
        why = reason if isinstance(reason, str) and reason else "verification gave no figures"
        return {"ok": False, "message": f"Not verified: {why.rstrip('.')}.", "rows": []}
    message = "Ran the original and the rewritten cell, each rolled back afterwards:"
    return {"ok": True, "message": message, "rows": rows, "notes": notes}


def _field(result: Any, name: str) -> Any:
    return result.get(name) if isinstance(result, Mapping) else getattr(result, name, None)
