"""The tutorial notebooks run top to bottom in a fresh kernel, without errors.

Each notebook checks its own claims with `assert` cells, so a behaviour that regresses
(a finding that no longer fires, a rewrite that changes) fails here.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT_S = 120

pytestmark = pytest.mark.notebooks


def execute_notebook(path: Path, kernel_name: str = "python3") -> float:
    """Run every cell of `path` in a new kernel (working directory: the notebook's); seconds taken."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.perf_counter()
    client.execute()
    return time.perf_counter() - started


def test_there_are_notebooks() -> None:
    assert [p.name for p in NOTEBOOK_PATHS][:1] == ["01-quickstart.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=[p.stem for p in NOTEBOOK_PATHS])
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: outputs stored"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=[p.stem for p in NOTEBOOK_PATHS])
def test_notebook_runs(path: Path) -> None:
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    seconds = execute_notebook(path)
    assert seconds < 60, f"{path.name} took {seconds:.0f} s; a tutorial should run in well under a minute"
