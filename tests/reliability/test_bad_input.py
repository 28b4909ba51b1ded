"""Mistakes in the cell or its options give one clear line, never a traceback, and leave
nothing running."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

import sqla_magic
from sqla_magic.capture.statements import listeners_installed
from tests.reliability.conftest import run

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _error_output(capsys: pytest.CaptureFixture[str]) -> list[str]:
    out = capsys.readouterr()
    text = _ANSI.sub("", out.out + out.err)
    assert "Traceback" not in text
    assert "sqla_magic" not in text.replace("sqla_magic.last_report()", "")
    return [line for line in text.splitlines() if line.strip()]


def _nothing_running() -> None:
    assert not listeners_installed()
    assert sys.getprofile() is None and sys.gettrace() is None


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("--frobnicate", "unrecognized arguments: --frobnicate"),
        ("--engine", "expected one argument"),
        ("--engine Author", "--engine Author: not a SQLAlchemy engine"),
        ("--engine 42", "--engine 42: not a SQLAlchemy engine: 42"),
        ("--engine no_such_name", "--engine no_such_name: NameError: name 'no_such_name' is not defined"),
        ("--engine 1/0", "--engine 1/0: ZeroDivisionError: division by zero"),
        ("--engine [engine,", "--engine [engine,: SyntaxError:"),
        ("stray words", "unexpected arguments for %%sqlprofile: stray words"),
    ],
)
def test_bad_options_are_one_line(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str], options: str, expected: str
) -> None:
    capsys.readouterr()
    before = sqla_magic.last_report()
    result = run(shell, f"%%sqlprofile {options}\nran = True\n")
    assert result.error_in_exec is not None
    assert "ran" not in shell.user_ns
    lines = _error_output(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith("UsageError: ") and expected in lines[0]
    assert sqla_magic.last_report() is before
    _nothing_running()


def test_syntax_error_in_the_cell(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    result = run(shell, "%%sqlprofile --quiet\nx = 1\ny = )\nz = 2\n")
    assert isinstance(result.error_before_exec, SyntaxError)
    lines = _error_output(capsys)
    assert [line for line in lines if "SyntaxError" in line] == [lines[-1]]
    assert "line 3" in " ".join(lines)  # the cell's own numbering: the magic line is line 1
    _nothing_running()


def test_syntax_error_through_the_direct_magic_call(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    shell.run_cell("%sqlprofile --quiet x = (", store_history=False)
    lines = _error_output(capsys)
    assert lines == ["UsageError: syntax error in the profiled code, line 1: '(' was never closed"]
    _nothing_running()


def test_save_to_unwritable_path(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    for target, reason in [
        ("/nonexistent-dir/r.json", "No such file or directory"),
        (f"{blocked}/r.html", "Not a directory"),
        (f"{tmp_path}/r.txt", "use a .html (standalone page), .json"),
    ]:
        capsys.readouterr()
        result = run(shell, f"%%sqlprofile --quiet --no-explain --save {target}\nx = 1\n")
        assert result.error_in_exec is None
        lines = _error_output(capsys)
        assert len(lines) == 1 and lines[0].startswith(f"sqlprofile: could not save the report to {target}")
        assert reason in lines[0]
        assert sqla_magic.last_report() is not None
    _nothing_running()


def test_line_magic_without_a_statement(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    shell.run_cell("%sqlprofile --quiet", store_history=False)
    lines = _error_output(capsys)
    assert lines == ["UsageError: %sqlprofile needs a statement; use %%sqlprofile for a whole cell"]
    _nothing_running()
