"""The widget glue without a browser: requests and replies, Try it, the output, %sqlprofile_apply."""

from __future__ import annotations

import dataclasses
import gc
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import REWRITTEN, make_report
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from sqla_magic.model import Finding, Report, Rewrite
from sqla_magic.pipeline import remember
from sqla_magic.render import widget
from sqla_magic.verify import CONFIRM, RunFigures, Verification

anywidget = pytest.importorskip("anywidget")


def _replies(view: Any) -> list[Any]:
    sent: list[Any] = []
    view.send = sent.append
    return sent


def test_requests_are_answered_with_their_id(report: Report) -> None:
    view = widget.report_widget(report, "cell-1")
    sent = _replies(view)
    view._on_request(view, {"request": "groups", "id": "a:1", "args": {"page": 0}}, [])
    view._on_request(view, {"request": "children", "id": "a:2", "args": {"node": 999}}, [])
    view._on_request(view, {"unrelated": True}, [])
    view._on_request(view, {"request": "hello", "id": "a:3"}, [])
    assert sent[0]["reply_to"] == "a:1" and sent[0]["payload"]["shapes"] == "2"
    assert sent[1] == {"reply_to": "a:2", "error": "IndexError: list index out of range"}
    assert sent[2]["payload"] == view.header
    assert len(sent) == 3
    assert view.cell_id == "cell-1" and view.header["first_tab"] == "findings"


def test_requests_run_where_the_scheduler_puts_them(report: Report) -> None:
    jobs: list[Callable[[], None]] = []
    view = widget.report_widget(report, schedule=jobs.append)
    sent = _replies(view)
    view._on_request(view, {"request": "findings", "id": "b:1"}, [])
    assert sent == [] and len(jobs) == 1  # nothing answered on the receiving thread
    worker = threading.Thread(target=jobs.pop())
    worker.start()
    worker.join()
    assert sent[0]["reply_to"] == "b:1" and sent[0]["payload"][0]["rule"]


def test_the_widget_holds_its_report_weakly_and_closes_with_it() -> None:
    report = make_report()
    view = widget.report_widget(report)
    sent = _replies(view)
    assert view.comm is not None
    del report
    gc.collect()
    assert view.report is None
    assert view.comm is None  # closed: the browser puts the static report back
    view._reply({"request": "findings", "id": "c:1"})
    assert sent == [{"reply_to": "c:1", "error": f"LookupError: {widget.REPORT_GONE}"}]


def test_apply_and_copy_get_the_code_exactly(report: Report) -> None:
    long_code = "%%sqlprofile\n" + "x = 1  # \u200d\x1b[31m\n" * 3000
    finding = dataclasses.replace(
        report.findings[1], rewrite=dataclasses.replace(report.findings[1].rewrite, rewritten=long_code)
    )
    changed = dataclasses.replace(report, findings=[report.findings[0], finding])
    view = widget.report_widget(changed)
    cards = view.answer("findings", {})
    (card,) = [c for c in cards if c["rewrite"]]
    assert card["rewrite"]["code"] == long_code


# -- Try it -----------------------------------------------------------------------------------


def test_try_it_without_verification_says_so(report: Report) -> None:
    outcome = widget.try_rewrite(report, 1, None)
    assert outcome == {"ok": False, "message": widget.VERIFY_MISSING, "comparison": None}
    assert widget.try_rewrite(report, 0, None)["message"] == "This finding has no rewrite to try."


def _verification(report: Report, verified: bool = True, reason: str = "") -> Verification:
    """What `verify` returns: the figures of both runs and their reports."""
    after = dataclasses.replace(report, statements=report.statements[:2], wall_s=0.1, findings=())
    run = RunFigures(statements=301, wall_s=0.5, peak_bytes=100)
    return Verification(
        verified,
        reason,
        run,
        RunFigures(statements=2, wall_s=0.1, peak_bytes=200),
        same_result=True,
        before_report=report,
        after_report=after,
    )


def test_try_it_shows_the_comparison_of_the_two_runs(report: Report) -> None:
    calls: list[Finding] = []

    def verify(finding: Finding) -> Verification:
        calls.append(finding)
        return _verification(report)

    outcome = widget.try_rewrite(report, 1, verify)
    assert calls == [report.findings[1]]
    assert outcome["ok"] is True
    # The Compare tab's payload: the same measures, shapes and findings a Comparison has.
    comparison = outcome["comparison"]
    assert comparison["names"] == ["original", "rewrite"]
    measures = {m["name"]: m for m in comparison["measures"]}
    statements = measures["statements"]
    assert (statements["before"], statements["after"], statements["verdict"]) == ("301", "2", "better")
    assert measures["wall time"]["verdict"] in ("better", "no clear change")
    assert comparison["findings_summary"].startswith("2 fixed")
    assert outcome["notes"][-1] == "Both versions give the same result."


def test_a_failed_verification_shows_only_the_error(report: Report) -> None:
    refused = _verification(report, verified=False, reason="the cell commits")
    assert widget.try_rewrite(report, 1, lambda finding: refused) == {
        "ok": False,
        "message": "Not verified: the cell commits.",
        "comparison": None,
    }

    def broken(finding: Finding) -> Any:
        raise RuntimeError("database is locked")

    message = widget.try_rewrite(report, 1, broken)["message"]
    assert message == "The rewrite could not be tried: RuntimeError: database is locked"


def test_the_verify_request_sends_an_index_and_gets_the_comparison(report: Report) -> None:
    view = widget.report_widget(report, verify=lambda finding: _verification(report), confirm=CONFIRM)
    assert view.confirm["does"].startswith("Try it runs this cell's code again")
    assert view.confirm["cannot_undo"]
    sent = _replies(view)
    view._on_request(view, {"request": "verify", "id": "x", "args": {"finding": 1}}, [])
    assert sent[0]["payload"]["comparison"]["measures"][0]["name"] == "statements"


def test_a_compare_tab_only_with_a_baseline(report: Report) -> None:
    plain = widget.report_widget(report)
    assert "compare" not in [tab["name"] for tab in plain.header["tabs"]]
    after = dataclasses.replace(report, statements=report.statements[:2])
    compared = widget.report_widget(after, comparison=report.compare(after, names=("before", "this run")))
    tabs = {tab["name"]: tab for tab in compared.header["tabs"]}
    assert tabs["compare"]["count"] == "301 → 2"
    assert compared.header["first_tab"] == "compare"
    sent = _replies(compared)
    compared._on_request(compared, {"request": "compare", "id": "c"}, [])
    payload = sent[0]["payload"]
    assert payload["names"] == ["before", "this run"]
    assert payload["shapes"][0] == {
        "status": "changed",
        "before": "300",
        "after": "1",
        "verdict": "better",
        "sql": payload["shapes"][0]["sql"],
        "origin": "lazy load User.addresses",
    }


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


# -- Apply of a module rewrite ------------------------------------------------------------------


def _module_report(report: Report, path: Any, original: str, rewritten: str) -> Report:
    rewrite = Rewrite(original, rewritten, "one query", path=str(path))
    finding = dataclasses.replace(report.findings[1], rewrite=rewrite)
    return dataclasses.replace(report, findings=(report.findings[0], finding))


def test_apply_writes_a_module_rewrite_only_over_the_text_it_was_made_from(
    report: Report, tmp_path: Any
) -> None:
    module = tmp_path / "services.py"
    original = "def users(session):\n    return session.scalars(select(User)).all()\n"
    rewritten = original.replace("select(User)", "select(User).options(selectinload(User.addresses))")
    module.write_text(original, encoding="utf-8")
    with_module = _module_report(report, module, original, rewritten)
    view = widget.report_widget(with_module)
    sent = _replies(view)
    (card,) = [card for card in view.answer("findings", {}) if card["index"] == 1]
    assert card["rewrite"]["path"] == str(module) and card["rewrite"]["code"] == rewritten
    # Only with the second click's explicit confirm.
    view._on_request(view, {"request": "write-module", "id": "v", "args": {"finding": 1}}, [])
    assert sent[0]["payload"]["ok"] is False and module.read_text(encoding="utf-8") == original
    view._on_request(
        view, {"request": "write-module", "id": "w", "args": {"finding": 1, "confirm": True}}, []
    )
    assert sent[1]["payload"]["ok"] is True and str(module) in sent[1]["payload"]["message"]
    assert module.read_text(encoding="utf-8") == rewritten
    # Written once: the file no longer holds the original, so a second Apply refuses.
    outcome = widget.write_module(with_module, 1)
    assert outcome["ok"] is False and "changed since it was profiled" in outcome["message"]
    assert module.read_text(encoding="utf-8") == rewritten
    module.unlink()
    assert "cannot be read" in widget.write_module(with_module, 1)["message"]
    assert widget.write_module(report, 1)["message"] == "This finding has no rewrite of a module file."
    assert not module.exists()


def test_try_it_refuses_a_module_rewrite_without_running_anything(report: Report, tmp_path: Any) -> None:
    with_module = _module_report(report, tmp_path / "m.py", "x = 1\n", "x = 2\n")

    def verify(finding: Finding) -> Verification:
        raise AssertionError("nothing may run")

    outcome = widget.try_rewrite(with_module, 1, verify)
    assert outcome["ok"] is False and "this rewrite changes" in outcome["message"]
