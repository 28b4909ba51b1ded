"""A failing cell: the same exception and traceback reach the user, the report is kept,
and the session and engine still work afterwards."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from IPython.core.interactiveshell import InteractiveShell

import sqla_magic
from sqla_magic.capture.statements import listeners_installed
from tests.reliability.conftest import run, traceback_lines


def _session_still_works(shell: InteractiveShell) -> None:
    result = run(shell, "session.rollback()\nsession.execute(sa.select(sa.func.count(Author.id))).scalar()\n")
    result.raise_error()
    assert result.result == 6
    assert not listeners_installed()


@pytest.mark.parametrize(
    "raise_line",
    ["raise problem", "raise KeyboardInterrupt('stop')", "1 / 0"],
    ids=["value-error", "keyboard-interrupt", "zero-division"],
)
def test_cell_error_is_the_original_with_its_traceback(shell: InteractiveShell, raise_line: str) -> None:
    result = run(
        shell,
        "%%sqlprofile --quiet --no-explain\n"
        "problem = ValueError('boom')\n"
        "names = [a.name for a in session.scalars(sa.select(Author))]\n"
        f"{raise_line}\n",
    )
    error = result.error_in_exec
    assert error is not None
    if raise_line == "raise problem":
        assert error is shell.user_ns["problem"]
    frames = traceback_lines(error)
    report = sqla_magic.last_report()
    assert report is not None and report.error is not None
    assert frames[-1] == (report.filename, 4)
    assert report.error.type == type(error).__name__ and report.error.line == 4
    assert len(report.statements) == 1 and report.statements[0].line == 3
    _session_still_works(shell)


def test_keyboard_interrupt_inside_a_query_loop(shell: InteractiveShell) -> None:
    result = run(
        shell,
        "%%sqlprofile --quiet --no-explain\n"
        "for author in session.scalars(sa.select(Author)):\n"
        "    if len(author.books) == 2 and author.id == 3:\n"
        "        raise KeyboardInterrupt\n",
    )
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    report = sqla_magic.last_report()
    assert report is not None and report.error is not None and report.error.line == 4
    assert len(report.statements) == 4  # the authors, then books of authors 1..3
    _session_still_works(shell)


def test_integrity_error_in_flush(shell: InteractiveShell) -> None:
    result = run(
        shell,
        "%%sqlprofile --quiet\nsession.add(Author(id=1, name='duplicate'))\nsession.flush()\n",
    )
    error = result.error_in_exec
    assert isinstance(error, sa.exc.IntegrityError)
    report = sqla_magic.last_report()
    assert report is not None and report.error is not None
    assert report.error.type == "IntegrityError" and report.error.line == 3
    assert (report.filename, 3) in traceback_lines(error)
    failed = [s for s in report.statements if s.error]
    assert len(failed) == 1 and failed[0].sql.lstrip().upper().startswith("INSERT")
    assert failed[0].origin == "flush" and "UNIQUE" in failed[0].error.upper()
    _session_still_works(shell)


def test_profile_block_reraises_the_same_exception(sqlite_engine: sa.Engine) -> None:
    problem = RuntimeError("from the block")
    with pytest.raises(RuntimeError) as caught, sqla_magic.profile(explain=False) as report:
        with sqlite_engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").all()
        raise problem
    assert caught.value is problem
    raise_line = test_profile_block_reraises_the_same_exception.__code__.co_firstlineno + 5
    assert traceback_lines(problem)[-1] == (__file__, raise_line)
    assert report.error is not None and report.error.type == "RuntimeError"
    assert report.error.line == raise_line
    assert len(report.statements) == 1
    assert sqla_magic.last_report() is report
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 2").scalar() == 2


def test_keyboard_interrupt_through_profile_block(sqlite_engine: sa.Engine) -> None:
    with pytest.raises(KeyboardInterrupt), sqla_magic.profile(explain=False) as report:
        sqlite_engine.connect().exec_driver_sql("SELECT 1").all()
        raise KeyboardInterrupt
    assert report.error is not None and report.error.type == "KeyboardInterrupt"
    assert not listeners_installed()


class _Unprintable:
    """A parameter (or exception) whose `__repr__`/`__str__` raise."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__


def test_unprintable_parameter_keeps_the_users_exception(sqlite_engine: sa.Engine) -> None:
    failing = pytest.raises(sa.exc.ProgrammingError)
    with failing, sqla_magic.profile(explain=False) as report, sqlite_engine.connect() as conn:
        conn.exec_driver_sql("SELECT ?", (_Unprintable(),))
    assert report.error is not None and report.error.type == "ProgrammingError"
    assert report.statements[0].params == ("<_Unprintable object: repr() raised RuntimeError>",)
    assert "not supported" in (report.statements[0].error or "")
    assert report.to_text() and report.to_html()


def test_unprintable_exception_in_a_cell(shell: InteractiveShell) -> None:
    shell.user_ns["Unprintable"] = type("Unprintable", (Exception,), {"__str__": _Unprintable.__repr__})
    # Not stored in history: IPython's own history step replaces such an exception.
    cell = "%%sqlprofile --quiet --no-explain\nsession.get(Author, 1)\nraise Unprintable()\n"
    result = shell.run_cell(cell, store_history=False)
    assert type(result.error_in_exec).__name__ == "Unprintable"
    report = sqla_magic.last_report()
    assert report is not None and report.error is not None and report.error.line == 3
    assert report.error.message == "<Unprintable object: str() raised RuntimeError>"
    _session_still_works(shell)
