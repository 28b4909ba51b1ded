"""`%%sqlprofile` and `%sqlprofile` through a real IPython `InteractiveShell`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

import sqla_magic
from sqla_magic.capture.statements import listeners_installed

SETUP = """
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqla_magic import demo
engine = sa.create_engine("sqlite://")
models = demo.declare()
demo.populate(engine, models, authors=12, books_per_author=3)
session = Session(engine)
"""


@pytest.fixture
def shell(magic_shell: Callable[[str], InteractiveShell]) -> InteractiveShell:
    return magic_shell(SETUP)


def run(ip: InteractiveShell, cell: str) -> Any:
    return ip.run_cell(cell, store_history=True)


def test_cell_lines_results_and_output_name(shell: InteractiveShell) -> None:
    result = run(
        shell,
        "%%sqlprofile -o rep --quiet --no-explain\n"
        "authors = session.query(models.Author).all()\n"
        "# a comment line\n"
        "sum(len(a.books) for a in authors)\n",
    )
    result.raise_error()
    assert result.result == 36
    assert shell.user_ns["_"] == 36
    report = shell.user_ns["rep"]
    assert report is sqla_magic.last_report()
    assert len(report.statements) == 13
    assert report.statements[0].line == 2 and report.statements[0].origin == "query"
    assert {s.line for s in report.statements[1:]} == {4}
    assert report.source.startswith("%%sqlprofile")
    assert report.call_tree is not None
    cell_code = [n for n in report.call_tree.children if n.kind == "cell"]
    assert cell_code and cell_code[0].file == report.filename
    assert any(n.name == "all" for n in report.call_tree.walk())
    assert abs(sum(report.layers.values()) - report.wall_s) <= 0.05 * report.wall_s


def test_failing_cell_keeps_report_and_traceback(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(
        shell,
        "%%sqlprofile --quiet --no-explain\nnames = [a.name for a in session.query(models.Author)]\n1 / 0\n",
    )
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    report = sqla_magic.last_report()
    assert report is not None and report.error is not None
    assert report.error.type == "ZeroDivisionError" and report.error.line == 3
    assert len(report.statements) == 1
    tb = result.error_in_exec.__traceback__
    lines = []
    while tb is not None:
        lines.append(tb.tb_lineno)
        tb = tb.tb_next
    assert lines[-1] == 3
    assert "ZeroDivisionError" in capsys.readouterr().out
    run(shell, "session.rollback()").raise_error()


def test_top_level_await_with_async_engine(shell: InteractiveShell) -> None:
    pytest.importorskip("aiosqlite")
    run(
        shell,
        "from sqlalchemy.ext.asyncio import create_async_engine\n"
        "aengine = create_async_engine('sqlite+aiosqlite://')\n",
    ).raise_error()
    result = run(
        shell,
        "%%sqlprofile -o arep --quiet --no-explain\n"
        "async with aengine.connect() as conn:\n"
        "    rows = (await conn.execute(sa.text('SELECT 1 UNION ALL SELECT 2'))).all()\n"
        "len(rows)\n",
    )
    result.raise_error()
    assert result.result == 2
    report = shell.user_ns["arep"]
    assert [s.line for s in report.statements if "UNION" in s.sql] == [3]
    run(shell, "await aengine.dispose()").raise_error()


def test_line_magic_returns_value(shell: InteractiveShell) -> None:
    value = shell.run_line_magic("sqlprofile", "--quiet --no-explain session.query(models.Book).count()")
    assert value == 36
    report = sqla_magic.last_report()
    assert report is not None and len(report.statements) == 1 and report.statements[0].line == 1


def test_direct_cell_magic_call(shell: InteractiveShell) -> None:
    value = shell.run_cell_magic(
        "sqlprofile", "--quiet --no-explain", "books = session.query(models.Book).all()\nlen(books)\n"
    )
    assert value == 36
    report = sqla_magic.last_report()
    assert report is not None and report.statements[0].line == 2


def test_bad_options_give_one_line_errors(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(shell, "%%sqlprofile --frobnicate\n1\n")
    assert result.error_in_exec is not None
    out = capsys.readouterr()
    assert "UsageError" in out.err + out.out and "Traceback" not in out.err + out.out
    result = run(shell, "%%sqlprofile --engine models\n1\n")
    assert result.error_in_exec is not None
    out = capsys.readouterr()
    assert "not a SQLAlchemy engine" in out.err + out.out and "Traceback" not in out.err + out.out
    assert not listeners_installed()


def test_save_json_and_engine_option(shell: InteractiveShell, tmp_path: Any) -> None:
    target = tmp_path / "report.json"
    run(shell, "other = sa.create_engine('sqlite://')").raise_error()
    run(
        shell,
        f"%%sqlprofile --quiet --no-explain --engine other --save {target}\n"
        "session.query(models.Author).count()\n"
        "other.connect().exec_driver_sql('SELECT 42').all()\n",
    ).raise_error()
    saved = json.loads(target.read_text())
    assert [s["sql"] for s in saved["statements"]] == ["SELECT 42"]
    assert sqla_magic.Report.from_json(target.read_text()) == sqla_magic.last_report()


def test_unload_removes_everything() -> None:
    ip = InteractiveShell.instance()
    before = (
        list(ip.input_transformers_cleanup),
        list(ip.events.callbacks["post_run_cell"]),
        set(ip.magics_manager.magics["cell"]),
        set(ip.magics_manager.magics["line"]),
        list(ip.configurables),
        sys.getprofile(),
    )
    ip.run_cell("%load_ext sqla_magic", store_history=False)
    assert "sqlprofile" in ip.magics_manager.magics["cell"]
    ip.run_cell("%%sqlprofile --quiet --no-explain\nx = 1\n", store_history=False).raise_error()
    ip.run_cell("%unload_ext sqla_magic", store_history=False)
    after = (
        list(ip.input_transformers_cleanup),
        list(ip.events.callbacks["post_run_cell"]),
        set(ip.magics_manager.magics["cell"]),
        set(ip.magics_manager.magics["line"]),
        list(ip.configurables),
        sys.getprofile(),
    )
    assert after == before
    assert not listeners_installed()


def test_thresholds_are_configurable(shell: InteractiveShell) -> None:
    shell.run_line_magic("config", "SqlProfile.n_plus_one_threshold = 3")
    magics = next(c for c in shell.configurables if type(c).__name__ == "SqlProfile")
    assert magics.thresholds().n_plus_one_threshold == 3
    shell.run_line_magic("config", "SqlProfile.n_plus_one_threshold = 10")


def test_save_html_redacted(shell: InteractiveShell, tmp_path: Any) -> None:
    target = tmp_path / "report.html"
    run(
        shell,
        f"%%sqlprofile --quiet --no-explain --save {target} --redact\n"
        "session.execute(sa.text('SELECT :token'), {'token': 'hunter2-secret'}).all()\n",
    ).raise_error()
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>") and "SELECT" in page
    assert "hunter2-secret" not in page


def test_save_to_unwritable_path_is_one_line(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(shell, "%%sqlprofile --quiet --no-explain --save /nonexistent-dir/r.json\nx = 1\n")
    assert result.error_in_exec is None
    err = capsys.readouterr().err
    assert "could not save the report to /nonexistent-dir/r.json" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "complaint"),
    [("1st", "not a Python name"), ("class", "not a Python name"), ("list", "built-in list()")],
)
def test_output_name_must_be_usable(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str], name: str, complaint: str
) -> None:
    result = run(shell, f"%%sqlprofile -o {name} --quiet --no-explain\nx = 1\n")
    assert result.error_in_exec is not None
    out = capsys.readouterr()
    assert complaint in out.err + out.out and "Traceback" not in out.err + out.out
    assert shell.user_ns.get(name) is not sqla_magic.last_report() or name == "list"
    assert not listeners_installed()


def test_save_path_in_quotes_with_home(
    shell: InteractiveShell, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "my reports").mkdir()
    run(shell, "%%sqlprofile --quiet --no-explain --save '~/my reports/r.json'\nx = 1\n").raise_error()
    saved = sqla_magic.Report.from_json((tmp_path / "my reports" / "r.json").read_text())
    assert saved == sqla_magic.last_report()
    line = shell.run_line_magic("sqlprofile", f'--quiet --no-explain --save "{tmp_path}/line.html" 1 + 1')
    assert line == 2 and (tmp_path / "line.html").read_text().startswith("<!DOCTYPE html>")
