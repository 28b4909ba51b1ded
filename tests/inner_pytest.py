"""Run pytest on a small project in a child process, for the plugin's tests.

A child process rather than `pytester`: pytester takes modules imported during a test out
of `sys.modules` afterwards, and a second import of SQLAlchemy's or IPython's modules in
this process breaks their registries for every later test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class InnerRun:
    returncode: int
    output: str
    lines: pytest.LineMatcher
    outcomes: dict[str, int]


def write(directory: Path, **files: str) -> None:
    for name, text in files.items():
        (directory / f"{name}.py").write_text(text.lstrip("\n"), encoding="utf-8")


def run_pytest(directory: Path, *args: str) -> InnerRun:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.pop("PYTEST_ADDOPTS", None)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(directory), *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = completed.stdout.splitlines()
    outcomes = (
        pytest.RunResult.parse_summary_nouns(lines) if any(" in " in line for line in lines[-1:]) else {}
    )
    return InnerRun(
        completed.returncode, completed.stdout + completed.stderr, pytest.LineMatcher(lines), outcomes
    )
