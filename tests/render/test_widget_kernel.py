"""The notebook view's memory bound in a real kernel, driven over jupyter_client.

Every profiled cell displays its report with a live widget.  The widget holds the report
weakly, so what the kernel keeps is bounded by `keep_reports`, however many cells ran:
older widgets close (their outputs fall back to the static report) and their reports,
statements included, are freed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")
pytest.importorskip("anywidget")

pytestmark = pytest.mark.kernel

KEEP = 3
CELLS = 40
STATEMENTS = 2_000

SETUP = f"""
%load_ext sqla_magic
%config SqlProfile.keep_reports = {KEEP}
import gc, json, os
import sqlalchemy as sa
engine = sa.create_engine("sqlite://")
"""

PROFILED = f"""%%sqlprofile --no-explain --no-memory
with engine.connect() as conn:
    for i in range({STATEMENTS}):
        conn.execute(sa.text("SELECT :i"), {{"i": i}})
"""

CENSUS = """
from sqla_magic.model import Report
from sqla_magic.render.widget import _class
gc.collect()
widgets = [o for o in gc.get_objects() if isinstance(o, _class())]
reports = [o for o in gc.get_objects() if isinstance(o, Report)]
with open("/proc/self/status") as status:
    rss = next(int(row.split()[1]) * 1024 for row in status if row.startswith("VmRSS:"))
print(json.dumps({
    "open": sum(1 for w in widgets if w.comm is not None),
    "holding": sum(1 for w in widgets if w.report is not None),
    "reports": len(reports),
    "rss": rss,
}))
"""


@pytest.fixture
def kernel() -> Iterator[Any]:
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _run(client: Any, code: str) -> str:
    printed: list[str] = []
    displayed: list[str] = []

    def output(message: dict[str, Any]) -> None:
        content = message["content"]
        if message["msg_type"] == "stream":
            printed.append(content["text"])
        elif message["msg_type"] == "error":
            printed.append("\n".join(content["traceback"]))
        elif message["msg_type"] == "display_data":
            displayed.append(content["data"].get("text/html", ""))

    reply = client.execute_interactive(code, timeout=120, output_hook=output)
    assert reply["content"]["status"] == "ok", "".join(printed)
    if code.startswith("%%sqlprofile"):
        assert len(displayed) == 1 and "sqm-mount-" in displayed[0]  # the live view's one output
    return "".join(printed)


def test_displayed_widgets_keep_only_the_last_reports(kernel: Any) -> None:
    _run(kernel, SETUP)
    _run(kernel, PROFILED)
    first = json.loads(_run(kernel, CENSUS))
    for _ in range(CELLS):
        _run(kernel, PROFILED)
    last = json.loads(_run(kernel, CENSUS))
    print("kernel after 1 cell:", first, f"after {CELLS + 1} cells:", last)
    # The history, plus at most the latest run's own reference to its report.
    assert KEEP <= last["reports"] <= KEEP + 1
    assert last["open"] == last["holding"] == last["reports"]  # every other widget has closed
    # Without the bound each cell's 2,000 statements stayed; now the kernel stays flat.
    assert last["rss"] - first["rss"] < 25 * 2**20, (first, last)
