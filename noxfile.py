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

FULL_SUITE = ("3.11", "2.0")
"""The one Python and SQLAlchemy line that runs the whole suite."""

VERSION_SENSITIVE = [
    "tests/capture",
    "tests/analysis",
    "tests/scenarios",
    "tests/explain",
    "tests/magic/test_magic.py",
    "tests/reliability/test_data_safety.py",
    "tests/reliability/test_explain_safety.py",
    "tests/reliability/test_verify_safety.py",
    "tests/reliability/test_exceptions.py",
    "tests/reliability/test_concurrency.py",
    "tests/reliability/test_leaks.py",
    "tests/reliability/test_memory_headline.py",
    "tests/reliability/test_secrets.py",
    "tests/test_budgets.py",
    "tests/test_kernel.py",
    "tests/test_model.py",
    "tests/test_model_compare.py",
    "tests/test_pipeline.py",
    "tests/test_verify.py",
]
"""What reads SQLAlchemy's events, compiler and private names, or the interpreter's profiler hooks
(cProfile on `sys.monitoring` from 3.12) and allocator: capture, the rules on real statements,
EXPLAIN per dialect, verify's sandbox, URLs' passwords (1.4 prints them), nested profiles, what
is left installed, the memory headline, the magic in a shell and in a real kernel. The other lines and versions run these;
rendering, exports, huge inputs, fuzzing and the pytest plugin read the model, which is the same
on all of them, and run once, on FULL_SUITE."""

MATRIX = [("3.11", line) for line in SQLALCHEMY] + [(python, "2.0") for python in PYTHONS if python != "3.11"]


@nox.session
@nox.parametrize("python,sqlalchemy", MATRIX)
def tests(session: nox.Session, sqlalchemy: str) -> None:
    session.install("-e", ".[test]", *SQLALCHEMY[sqlalchemy])
    paths = [] if (session.python, sqlalchemy) == FULL_SUITE or session.posargs else VERSION_SENSITIVE
    marks = "not browser and not notebooks and not binder"
    session.run("python", "-m", "pytest", "-q", "-m", marks, *paths, *session.posargs)


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
        "npx",
        "--yes",
        "--package",
        TYPESCRIPT,
        "tsc",
        "--project",
        "sqla_magic/render/widget/static",
        external=True,
    )
