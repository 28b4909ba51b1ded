"""Test sessions: the suite on each supported Python and SQLAlchemy line, plus lint and types.

pip install nox uv && nox                          # everything, as CI runs it
nox -s tests -p 3.12                               # one Python version
nox -s "tests(python='3.11', sqlalchemy='2.0')"  # one of each
"""

from __future__ import annotations

import shutil

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True

TYPESCRIPT = "typescript@5.9.3"
"""The compiler that type-checks the widget's JavaScript (its JSDoc types); npx fetches it once."""

SQLALCHEMY = {
    "1.4": ["sqlalchemy>=1.4.54,<1.5", "flask-sqlalchemy<3.1"],
    "2.0": ["sqlalchemy>=2.0.36,<2.1"],
    "2.1": ["sqlalchemy>=2.1,<2.2"],
}


PYTHONS = ["3.11", "3.12", "3.13"]
"""`requires-python` and the classifiers in pyproject.toml name these."""

FULL_MATRIX_PYTHON = "3.11"
"""Every SQLAlchemy line runs on the oldest Python; the newer ones run the current line,
the one whose code paths differ between Python versions (cProfile on `sys.monitoring`)."""


@nox.session
@nox.parametrize(
    "python,sqlalchemy",
    [(FULL_MATRIX_PYTHON, line) for line in SQLALCHEMY]
    + [(python, "2.0") for python in PYTHONS if python != FULL_MATRIX_PYTHON],
)
def tests(session: nox.Session, sqlalchemy: str) -> None:
    session.install("-e", ".[test]", *SQLALCHEMY[sqlalchemy])
    session.run(
        "python", "-m", "pytest", "-q", "-m", "not browser and not notebooks and not binder", *session.posargs
    )


@nox.session(python="3.11")
def browser(session: nox.Session) -> None:
    """The notebook view in JupyterLab under headless Chromium (/usr/bin/chromium)."""
    session.install("-e", ".[test,notebook]", "playwright>=1.40")
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-m",
        "browser",
        *session.posargs,
        env={"SQLA_MAGIC_REQUIRE_BROWSER": "1"},
    )


@nox.session(python="3.11")
def notebooks(session: nox.Session) -> None:
    """Every tutorial notebook, top to bottom, in a fresh kernel."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-q", "-m", "notebooks", *session.posargs)


@nox.session(python="3.11")
def binder(session: nox.Session) -> None:
    """The notebooks in a virtualenv built only from binder/ (requirements.txt, then postBuild)."""
    session.install("-e", ".[test]", "uv")
    session.run("python", "-m", "pytest", "-q", "-m", "binder", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("-e", ".[test,dev]")
    session.run("ruff", "check", "sqla_magic", "tests", "benchmarks")
    session.run("mypy")


@nox.session(venv_backend="none")
def typecheck(session: nox.Session) -> None:
    """The widget's JavaScript under TypeScript's strict checks (tsconfig.json beside widget.js)."""
    if shutil.which("npx") is None:
        session.skip("Node.js (npx) is not installed: the widget's JavaScript type check did not run")
    session.run(
        "npx", "--yes", "--package", TYPESCRIPT, "tsc", "--project", "sqla_magic/render/widget/static", external=True
    )
