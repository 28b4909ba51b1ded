"""The widget glue without a browser: requests and replies, Try it, %sqlprofile_apply."""

from __future__ import annotations

import dataclasses
import sys
import types
from collections.abc import Iterator
from typing import Any, Optional

import pytest
from conftest import REWRITTEN
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import sqla_magic.analysis
from sqla_magic.capture.run import remember
from sqla_magic.model import Report
from sqla_magic.render import widget

anywidget = pytest.importorskip("anywidget")


class _Shell:
    def __init__(self, kernel: Any = None) -> None:
        self.kernel = kernel
        self.user_ns: dict[str, Any] = {"session": object()}


@pytest.fixture
def fake_verify(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    module = types.ModuleType("sqla_magic.analysis.verify")
    monkeypatch.setitem(sys.modules, "sqla_magic.analysis.verify", module)
    monkeypatch.setattr("sqla_magic.analysis.verify", module, raising=False)
    yield module


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


def test_try_it_without_verification_says_so(report: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sqla_magic.analysis.verify", None)  # import fails
    monkeypatch.delattr(sqla_magic.analysis, "verify", raising=False)  # even once imported elsewhere
    outcome = widget.try_rewrite(report, 1, _Shell())
    assert outcome == {"ok": False, "message": widget.VERIFY_MISSING, "rows": []}
    assert widget.try_rewrite(report, 0, _Shell())["message"] == "This finding has no rewrite to try."


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


def test_try_it_compares_the_runs(report: Report, fake_verify: types.ModuleType) -> None:
    calls: list[tuple[Any, ...]] = []

    def verify(finding: Any, report: Any, namespace: Any, *, memory: bool = True) -> _Verification:
        calls.append((finding, report, namespace))
        return _Verification(True, "", _Run(301, 0.5, 100), _Run(2, 0.1, 200), same_result=True)

    fake_verify.verify = verify  # type: ignore[attr-defined]
    shell = _Shell()
    outcome = widget.try_rewrite(report, 1, shell)
    assert calls == [(report.findings[1], report, shell.user_ns)]
    assert outcome["ok"] is True
    rows = {row["label"]: row for row in outcome["rows"]}
    assert (rows["statements"]["before"], rows["statements"]["after"], rows["statements"]["better"]) == (
        "301",
        "2",
        True,
    )
    assert rows["peak memory"]["worse"] is True
    assert outcome["notes"] == ["Both versions give the same result."]


def test_try_it_reports_a_refusal_or_a_failure(report: Report, fake_verify: types.ModuleType) -> None:
    fake_verify.verify = lambda finding, report, namespace: _Verification(False, "the cell commits")  # type: ignore[attr-defined]
    assert widget.try_rewrite(report, 1, _Shell())["message"] == "Not verified: the cell commits."

    def broken(finding: Any, report: Any, namespace: Any) -> Any:
        raise RuntimeError("database is locked")

    fake_verify.verify = broken  # type: ignore[attr-defined]
    message = widget.try_rewrite(report, 1, _Shell())["message"]
    assert message == "The rewrite could not be tried: RuntimeError: database is locked"


def test_the_verify_request_sends_an_index_and_gets_figures(
    report: Report, fake_verify: types.ModuleType
) -> None:
    fake_verify.verify = lambda finding, report, namespace: _Verification(
        True, "", _Run(3, 1.0), _Run(1, 0.5)
    )  # type: ignore[attr-defined]
    view = widget.report_widget(report, shell=_Shell())
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
