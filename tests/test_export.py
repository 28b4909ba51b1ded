"""An executed tutorial exported with `jupyter nbconvert --to html` (default settings) keeps its reports.

The tutorial runs in a fresh kernel through nbclient, which also stores the widget state
in the notebook as `jupyter nbconvert --execute` does; the export must still show each
profiled cell's static report, findings first, and no widget placeholder.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

pytestmark = pytest.mark.notebooks


def test_nbconvert_html_of_an_executed_tutorial_shows_the_reports(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("nbconvert")
    notebook = nbformat.read(NOTEBOOKS / "01-quickstart.ipynb", as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    executed = tmp_path / "quickstart.ipynb"
    nbformat.write(notebook, executed)
    profiled = [c for c in notebook.cells if c.cell_type == "code" and c.source.startswith("%%sqlprofile")]
    assert profiled

    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(executed)],
        check=True,
        capture_output=True,
    )
    page = (tmp_path / "quickstart.html").read_text(encoding="utf-8")

    reports = page.count('class="sqla-magic-report"')
    shown = [c for c in profiled if "--quiet" not in c.source.splitlines()[0]]
    assert reports == len(shown), (reports, len(shown))
    first = page[page.index('class="sqla-magic-report"') :]
    first = first[: first.index("</div>\n</div>") if "</div>\n</div>" in first else len(first)]
    assert re.search(r"<h3>Findings \(\d+\)</h3>", first)
    assert re.search(r"<h3>SQL statements: [\d,]+ executions", first)
    assert first.index("<h3>Findings") < first.index("<h3>SQL statements")
    # No output asks for a widget view (the page's widget loader, there for the stored widget
    # state, finds nothing to render).
    assert '<script type="application/vnd.jupyter.widget-view+json">' not in page
