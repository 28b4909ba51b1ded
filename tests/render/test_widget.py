"""The widget glue without a browser: requests and replies, Try it, %sqlprofile_apply."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, Optional

import pytest
from conftest import REWRITTEN
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from sqla_magic.model import Report
from sqla_magic.pipeline import remember
from sqla_magic.render import widget

anywidget = pytest.importorskip("anywidget")


class _Shell:
    def __init__(self, kernel: Any = None) -> None:
        self.kernel = kernel
        self.user_ns: dict[str, Any] = {"session": object()}


def test_requests_are_answered_with_their_id(report: Report) -> None:
    view = widget.report_widget(report, "cell-1")
    sent: list[Any] = []
    view.send = sent.append
    view._on_request(view, {"request": "groups", "id": "a:1", "args": {"page": 0}}, [])
    view._on_request(view, {"request": "children", "id": "a:2", "args": {"node": 999}}, [])
    view._on_request(view, {"unrelated": True}, [])
    assert sent[0]["reply_to"] == "a:1" and sent[0]["payload"]["shapes"] == "2"
    assert sent[1] == {"reply_to": "a:2", "error": "IndexError: list index out of range"}
    assert len(sent) == 2
    assert view.cell_id == "cell-1" and view.header["first_tab"] == "findings"


# -- Try it -----------------------------------------------------------------------------------


def test_try_it_without_a_verifier_says_so(report: Report) -> None:
    outcome = widget.try_rewrite(report, 1, None)
    assert outcome == {"ok": False, "message": widget.VERIFY_MISSING, "rows": []}
    assert widget.try_rewrite(report, 0, None)["message"] == "This finding has no rewrite to try."


@dataclasses.dataclass
class _Run:
    statements: int
    wall_s: float
    peak_bytes: Optional[int] = None


@dataclasses.dataclass
class _Verification:
    verified: bool
    reason: str = ""
    before: Optional[_Run] = None
    after: Optional[_Run] = None
    same_result: Optional[bool] = None


def test_try_it_compares_the_runs(report: Report) -> None:
    calls: list[Any] = []

    def verify(finding: Any) -> _Verification:
        calls.append(finding)
        return _Verification(True, "", _Run(301, 0.5, 100), _Run(2, 0.1, 200), same_result=True)

    outcome = widget.try_rewrite(report, 1, verify)
    assert calls == [report.findings[1]]
    assert outcome["ok"] is True
    rows = {row["label"]: row for row in outcome["rows"]}
    assert (rows["statements"]["before"], rows["statements"]["after"], rows["statements"]["better"]) == (
        "301",
        "2",
        True,
    )
    assert rows["peak memory"]["worse"] is True
    assert outcome["notes"] == ["Both versions give the same result."]


def test_try_it_reports_a_refusal_or_a_failure(report: Report) -> None:
    refused = widget.try_rewrite(
        report, 1, lambda finding: _Verification(False, "the cell commits", same_result=True)
    )
    assert refused["message"] == "Not verified: the cell commits."
    assert not any("same result" in note for note in refused["notes"])

    def broken(finding: Any) -> Any:
        raise RuntimeError("database is locked")

    message = widget.try_rewrite(report, 1, broken)["message"]
    assert message == "The rewrite could not be tried: RuntimeError: database is locked"


def test_the_verify_request_sends_an_index_and_gets_figures(report: Report) -> None:
    view = widget.report_widget(
        report, verify=lambda finding: _Verification(True, "", _Run(3, 1.0), _Run(1, 0.5))
    )
    sent: list[Any] = []
    view.send = sent.append
    view._on_request(view, {"request": "verify", "id": "x", "args": {"finding": 1}}, [])
    assert sent[0]["payload"]["rows"][0]["label"] == "wall time"


# -- %sqlprofile_apply ------------------------------------------------------------------------


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_cell("%load_ext sqla_magic", store_history=False)
    try:
        yield ip
    finally:
        ip.run_cell("%unload_ext sqla_magic", store_history=False)


def test_sqlprofile_apply_puts_the_rewrite_into_the_next_cell(
    shell: InteractiveShell, report: Report
) -> None:
    remember(report)
    shell.rl_next_input = None
    shell.run_line_magic("sqlprofile_apply", "2")
    assert shell.rl_next_input == REWRITTEN
    with pytest.raises(UsageError, match="has no rewrite"):
        shell.run_line_magic("sqlprofile_apply", "1")
    shell.user_ns["older"] = dataclasses.replace(report, findings=report.findings[1:])
    shell.run_line_magic("sqlprofile_apply", "1 --report older")
    assert shell.rl_next_input == REWRITTEN
    with pytest.raises(UsageError, match="no report named missing"):
        shell.run_line_magic("sqlprofile_apply", "1 --report missing")
