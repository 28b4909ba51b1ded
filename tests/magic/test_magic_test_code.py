"""`%sqlprofile_test N`: a fixed finding becomes a pytest test, which passes on the fixed
code and fails on the code before the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from tests.inner_pytest import run_pytest, write

SETUP = """
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqla_magic import demo
engine = sa.create_engine("sqlite:///{database}")
models = demo.declare("{prefix}")
demo.populate(engine, models, authors=12, books_per_author=2)
models.Base.registry.configure()
session = Session(engine)
"""

N_PLUS_ONE = """%%sqlprofile -o before --quiet --no-explain
total = 0
for author in session.scalars(sa.select(models.Author)):
    total += len(author.books)
total
"""

CONFTEST = """
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import demo

MODELS = demo.declare("{prefix}")


@pytest.fixture
def models():
    return MODELS


@pytest.fixture
def session():
    engine = sa.create_engine("sqlite:///{database}")
    with Session(engine) as session:
        yield session
    engine.dispose()
"""


def test_generated_test_keeps_the_fix(
    magic_shell: Callable[[str], InteractiveShell], tmp_path: Path, table_prefix: str
) -> None:
    database = tmp_path / "library.db"
    shell = magic_shell(SETUP.format(database=database, prefix=table_prefix))
    shell.run_cell(N_PLUS_ONE).raise_error()
    before = shell.user_ns["before"]
    assert before.findings[0].rule == "n-plus-one" and before.findings[0].rewrite is not None
    fixed = before.findings[0].rewrite.rewritten.replace("-o before", "-o after", 1)
    shell.run_cell("session.expunge_all()").raise_error()
    shell.run_cell(fixed).raise_error()
    assert len(shell.user_ns["after"].statements) == 2

    target = tmp_path / "test_keep_fixed.py"
    shell.run_cell(f"%sqlprofile_test 1 --report before --after after --file {target}").raise_error()
    code = target.read_text(encoding="utf-8")
    assert "def test_n_plus_one_stays_fixed(session, models):" in code
    assert "with budget(max_statements=2, max_per_shape=1, fail_on=('n-plus-one',)):" in code
    assert "from sqlalchemy.orm import selectinload" in code and "import sqlalchemy as sa" in code

    write(tmp_path, conftest=CONFTEST.format(database=database, prefix=table_prefix))
    result = run_pytest(tmp_path, "-p", "sqla_magic")
    assert result.outcomes == {"passed": 1}, result.output

    # The same test on the code before the fix goes over its budget.
    broken = code.replace(".options(selectinload(models.Author.books))", "")
    assert broken != code
    target.write_text(broken, encoding="utf-8")
    result = run_pytest(tmp_path)
    assert result.outcomes == {"failed": 1}, result.output
    result.lines.fnmatch_lines(["*BudgetExceeded*", "*13 statements (budget: 2)*"])


def test_without_a_fixed_run_it_says_what_to_do(
    magic_shell: Callable[[str], InteractiveShell],
    tmp_path: Path,
    table_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shell = magic_shell(SETUP.format(database=tmp_path / "library.db", prefix=table_prefix))
    shell.run_cell(N_PLUS_ONE).raise_error()
    result = shell.run_cell("%sqlprofile_test 1")
    assert result.error_in_exec is not None
    assert "run the fixed cell first" in str(result.error_in_exec)
    result = shell.run_cell("%sqlprofile_test 1 --after nothing_by_that_name")
    assert "no report named nothing_by_that_name" in str(result.error_in_exec)
