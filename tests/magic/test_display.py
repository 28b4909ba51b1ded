"""What the front end is given: the mime bundle beside the widget, and the terminal's plain display."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import sqla_magic
from sqla_magic.magic import display
from sqla_magic.model import Report

anywidget = pytest.importorskip("anywidget")


class _Shell:
    def __init__(self, kernel: Any = None) -> None:
        self.kernel = kernel
        self.user_ns: dict[str, Any] = {}


class _Kernel:
    def __init__(self, metadata: Any) -> None:
        self.metadata = metadata

    def get_parent(self) -> dict[str, Any]:
        return {"metadata": self.metadata}


@pytest.fixture
def report(sqlite_engine: sa.Engine) -> Report:
    with sqla_magic.profile(explain=False, memory=False) as report, sqlite_engine.connect() as conn:
        conn.execute(sa.text("SELECT 1")).all()
    return report


def test_the_output_is_the_static_report_marked_for_the_live_view(report: Report) -> None:
    from sqla_magic.render import widget

    view = widget.report_widget(report)
    bundle = display.report_bundle(report, view)
    assert set(bundle) == {"text/html", "text/plain"}  # no widget-view: nothing to be "not found"
    assert bundle["text/html"] == f'<div class="{view.mount_class}">{report._repr_html_()}</div>'
    assert view.mount_class == widget.MOUNT_CLASS_PREFIX + view.mount and len(view.mount) == 32
    assert bundle["text/plain"] == repr(report)


def test_a_terminal_shell_gets_the_plain_display(report: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqla_magic.render import widget

    shown: list[Any] = []
    monkeypatch.setattr("IPython.display.display", lambda *args, **kwargs: shown.append((args, kwargs)))
    display.display_report(report, _Shell(kernel=None))
    assert shown == [((report,), {})]
    display.display_report(report, _Shell(kernel=object()))
    (bundle,), options = shown[1]
    assert options == {"raw": True} and widget.MOUNT_CLASS_PREFIX in bundle["text/html"]


def test_the_cell_id_comes_from_the_execute_request() -> None:
    assert display.cell_id(_Shell(kernel=_Kernel({"cellId": "abc-1"}))) == "abc-1"
    assert display.cell_id(_Shell(kernel=_Kernel({}))) is None
    assert display.cell_id(_Shell(kernel=None)) is None
