"""`%%sqlprofile` in a real Jupyter kernel, driven through nbclient as a notebook would be."""

from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

pytestmark = pytest.mark.kernel

CELLS = [
    "%load_ext sqla_magic",
    "import sqlalchemy as sa\n"
    "from sqlalchemy.orm import Session\n"
    "from sqla_magic import demo\n"
    "engine = sa.create_engine('sqlite://')\n"
    "models = demo.declare()\n"
    "demo.populate(engine, models, authors=40, books_per_author=5)\n"
    "session = Session(engine)",
    "%%sqlprofile -o rep --no-explain\n"
    "import asyncio\n"
    "await asyncio.sleep(0)\n"
    "authors = session.query(models.Author).all()\n"
    "sum(len(a.books) for a in authors)",
    "print(len(rep.statements), sorted({s.line for s in rep.statements}), rep.statements[1].origin)",
    "%%sqlprofile --quiet\nsession.query(models.Author).filter(models.Author.name == 'nobody').one()",
    "print(type(rep).__name__, _)",
]


def test_notebook_runs_in_a_real_kernel() -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True)
    client.execute()
    cells = notebook.cells

    profiled = cells[2].outputs
    assert [o["output_type"] for o in profiled] == ["execute_result", "display_data"]
    assert profiled[0]["data"]["text/plain"] == "200"
    assert "text/html" in profiled[1]["data"] and "text/plain" in profiled[1]["data"]

    assert cells[3].outputs[0]["text"].strip() == "41 [4, 5] lazy load Author.books"

    failed = cells[4].outputs
    assert failed[0]["output_type"] == "error" and failed[0]["ename"] == "NoResultFound"
    assert any(o["output_type"] == "display_data" for o in failed) is False  # --quiet

    assert cells[5].outputs[0]["text"].strip() == "Report 200"
