"""The notebooks run in an environment built only from `binder/`, as Binder builds it.

A fresh virtualenv gets `binder/requirements.txt` (plus the kernel and nbclient, which
Binder's base image provides), then `binder/postBuild` runs in a fresh copy of the
repository, and every notebook is executed with that virtualenv's Python as the kernel.
Needs PyPI (or a package cache); slow, so it has its own marker and nox session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNER = """
import sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

failed = []
for path in sorted(Path(sys.argv[1]).glob("*.ipynb")):
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    try:
        NotebookClient(notebook, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except Exception as problem:
        failed.append(path.name)
        print(f"FAILED {path.name}: {problem}", flush=True)
    else:
        print(f"ok {path.name} {time.perf_counter() - started:.1f}s", flush=True)
sys.exit(1 if failed else 0)
"""

pytestmark = pytest.mark.binder


def _uv() -> str | None:
    beside = Path(sys.executable).with_name("uv")
    return str(beside) if beside.exists() else shutil.which("uv")


def _copy_repository(target: Path) -> Path:
    """The working tree as a fresh clone would have it (no venvs, caches or build output)."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", ".nox", "build", "dist", "*.egg-info", "__pycache__", "*_cache", "test-artifacts"
    )
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result  # type: ignore[no-any-return]


@pytest.mark.timeout(1800)
def test_notebooks_run_in_an_environment_built_from_binder_files(tmp_path: Path) -> None:
    repository = _copy_repository(tmp_path / "repo")
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    extras = ["ipykernel", "nbclient", "nbformat"]
    requirements = str(repository / "binder" / "requirements.txt")
    uv = _uv()
    if uv is not None:
        # --seed: pip in the venv, because postBuild calls it as Binder's image has it.
        _run([uv, "venv", "--seed", "--python", sys.executable, str(venv)])
        _run([uv, "pip", "install", "--python", str(python), "-r", requirements, *extras])
    else:
        _run([sys.executable, "-m", "venv", str(venv)])
        _run([str(python), "-m", "pip", "install", "-q", "-r", requirements, *extras])

    environment = {
        **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")},
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
    }
    environment.pop("SQLA_MAGIC_TUTORIAL_URL", None)
    post_build = repository / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    _run([str(post_build)], cwd=repository, env=environment)

    installed = _run(
        [str(python), "-c", "import sqla_magic, sys; print(sqla_magic.__file__)"],
        cwd=tmp_path,
        env=environment,
    )
    assert str(venv) in installed.stdout, "sqla_magic was not installed into the Binder environment"

    # The venv's own Python runs nbclient, so "python3" is the venv's ipykernel.
    result = subprocess.run(
        [str(python), "-c", RUNNER, str(repository / "notebooks")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
    )
    print(result.stdout)
    assert result.returncode == 0, (
        f"notebooks failed in the Binder environment:\n{result.stdout}\n{result.stderr}"
    )
