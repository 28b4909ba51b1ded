from __future__ import annotations

import dataclasses

from sqla_magic.model import CallNode, CellError, Report, Statement
from sqla_magic.render.text import render_text


def test_header_gives_the_figures_at_a_glance(report: Report) -> None:
    header = render_text(report).splitlines()[0]
    for figure in (
        "520 ms wall",
        "470 ms CPU",
        "301 statements",
        "900 rows",
        "900 ORM objects",
        "+3.2 MiB allocated at peak",
        "2 findings",
    ):
        assert figure in header


def test_repr_and_to_text_are_the_text_report(report: Report) -> None:
    assert repr(report) == report.to_text() == render_text(report)


def test_error_is_shown_under_the_header(report: Report) -> None:
    failed = dataclasses.replace(report, error=CellError("ValueError", "no such user", 4))
    lines = render_text(failed).splitlines()
    assert lines[1] == "ERROR (line 4): ValueError: no such user"


def test_layers_bar_shows_every_layer_in_proportion(report: Report) -> None:
    text = render_text(report)
    bar_line = next(line for line in text.splitlines() if line.startswith("Layers"))
    bar = bar_line[bar_line.index("[") + 1 : bar_line.index("]")]
    assert len(bar) == 60
    for mark in "DFCOMP":
        assert mark in bar
    assert bar.count("P") > bar.count("D") > bar.count("O") > bar.count("F")
    for legend in ("database", "fetch", "compile", "ORM loading", "mapper config", "Python"):
        assert legend in text
    assert "24.0%" in text  # database: 125 ms of 520 ms


def test_n_plus_one_group_comes_first_with_its_count(report: Report) -> None:
    lines = render_text(report).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Statements by shape"))
    first_group = lines[start + 2].split()
    assert first_group[0] == "300"
    assert "generated 1, cached 299 / lazy load User.addresses" in lines[start + 2]
    assert lines[start + 3].strip().startswith("SELECT addresses.id AS addresses_id")
    assert lines[start + 4].split()[0] == "1"


def test_slowest_statement_is_the_users_query(report: Report) -> None:
    lines = render_text(report).splitlines()
    start = lines.index("Slowest statements")
    assert lines[start + 1].split()[:5] == ["#1", "3.10", "ms", "300", "rows"]


def test_call_tree_hot_path_marks_the_cell(report: Report) -> None:
    text = render_text(report)
    module_line = next(line for line in text.splitlines() if "<module>" in line)
    assert module_line.startswith(" >")
    assert "(ipykernel_4242/1234567.py:1)" in module_line
    lazy = next(line for line in text.splitlines() if "_load_for_state" in line)
    assert lazy.split()[:3] == ["210", "10.0", "300"]
    assert "configure_mappers" in text


def test_memory_table_shows_increments_and_source(report: Report) -> None:
    text = render_text(report)
    assert "Memory: +3.2 MiB allocated at peak" in text and "(tracemalloc)" in text
    row = next(line for line in text.splitlines() if "len(user.addresses))" in line and "KiB" in line)
    assert row.split()[:4] == ["4", "+634.8", "KiB", "2.9"]


def test_plan_warnings_and_findings(report: Report) -> None:
    text = render_text(report)
    assert "statement #2 [sqlite] seq-scan: full scan of addresses filtered on user_id" in text
    assert text.index("[HIGH] N+1 lazy loads") < text.index("[MEDIUM] Full scan of addresses")
    assert "+users = session.scalars(select(User).where(User.api_key != key).options(selectinload(" in text
    assert "Index('ix_addresses_user_id', Address.user_id)" in text
    assert "SAWarning (line 2): relationship X will copy column Y" in text
    assert "- EXPLAIN ran on the first execution of each shape." in text


def test_empty_report_renders() -> None:
    text = render_text(Report(wall_s=0.001, cpu_s=0.001))
    assert "0 statements" in text
    assert "No SQL statements." in text


def _wide_tree(width: int) -> CallNode:
    leaves = tuple(CallNode(f"f{i}", "/lib/mod.py", i, 1, 1.0 / (i + 1), 1.0 / (i + 1)) for i in range(width))
    return CallNode("<profiled code>", "", 0, 1, 10.0, 0.0, children=leaves, kind="cell")


def test_output_stays_bounded_for_huge_reports() -> None:
    statements = tuple(
        Statement(
            f"SELECT {i} FROM t",
            {"p": i},
            0.001,
            1,
            False,
            f"fp{i}",
            "cached",
            2,
            "core",
            "sqlite://",
            "MainThread",
        )
        for i in range(100_000)
    )
    report = Report(
        wall_s=100.0,
        cpu_s=90.0,
        statements=statements,
        call_tree=_wide_tree(50_000),
        layers={"database": 100.0},
        dropped_statements=5,
    )
    lines = render_text(report).splitlines()
    assert len(lines) < 80
    assert any("99,992 more shapes" in line for line in lines)
    assert any("49,986 smaller nodes not shown" in line for line in lines)
    assert "(5 more statements ran but were not kept)" in lines[1]
