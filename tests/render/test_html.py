from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

from sqla_magic.model import CallNode, Report, Statement
from sqla_magic.render.html import render_fragment, render_page
from sqla_magic.render.view_model import PAGE_SIZE
from sqla_magic.render.widget.tabs.statements import (
    STATIC_EXECUTION_ROWS as MAX_EXECUTION_ROWS,
)
from sqla_magic.render.widget.tabs.statements import (
    STATIC_MIN_EXECUTIONS as MIN_EXECUTIONS,
)
from sqla_magic.render.widget.tabs.statements import (
    STATIC_REINDENTED as MAX_SQLPARSE_CALLS,
)
from sqla_magic.render.widget.tabs.tree import STATIC_NODES as MAX_TREE_NODES

MAX_GROUPS = MAX_EXECUTIONS = PAGE_SIZE

VOID = {"meta", "br", "hr", "img", "input", "link"}


class Elements(HTMLParser):
    """Every start tag with its attributes, and whether the tags nest properly."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.open: list[str] = []
        self.mismatches: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.mismatches.append(f"</{tag}> closes {self.open[-1] if self.open else 'nothing'}")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def names(self) -> list[str]:
        return [tag for tag, _ in self.tags]


def parse(markup: str) -> Elements:
    parser = Elements()
    parser.feed(markup)
    parser.close()
    return parser


def test_fragment_is_one_well_formed_div_with_scoped_style(report: Report) -> None:
    fragment = render_fragment(report)
    parsed = parse(fragment)
    assert parsed.tags[0] == ("div", [("class", "sqla-magic-report")])
    assert parsed.mismatches == []
    assert parsed.open == []
    style = fragment[fragment.index("<style>") + len("<style>") : fragment.index("</style>")]
    style = re.sub(r"/\*.*?\*/", "", style, flags=re.S)
    selectors = re.findall(r"(?:^|})\s*([^{}]+)\{", style)
    assert selectors
    for group in selectors:
        for selector in group.split(","):
            # only the report's own elements, in JupyterLab's dark theme or not
            scoped = selector.strip().removeprefix('body[data-jp-theme-light="false"] ')
            assert scoped.startswith(".sqla-magic-report"), selector


def test_no_scripts_and_no_external_resources(report: Report) -> None:
    page = render_page(report)
    parsed = parse(page)
    assert "script" not in parsed.names()
    for _, attrs in parsed.tags:
        for name, _value in attrs:
            assert name not in ("src", "href"), name
    assert "http://" not in page and "https://" not in page
    assert "@import" not in page and "url(" not in page


def test_page_is_standalone_with_the_same_sections(report: Report) -> None:
    page = render_page(report)
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    assert "<title>sqla_magic report — 2026-11-22T10:00:00</title>" in page
    assert render_fragment(report) in page
    assert report.to_html() == page
    assert report._repr_html_() == render_fragment(report)
    assert parse(page).mismatches == []


def test_header_figures_and_layer_bar(report: Report) -> None:
    fragment = render_fragment(report)
    for figure in (
        "<b>520 ms</b>wall time",
        "<b>301</b>statements",
        "<b>+3.2 MiB</b>allocated at peak",
        "<b>2</b>findings",
    ):
        assert figure in fragment
    bar = fragment[fragment.index('<div class="sm-bar">') :]
    bar = bar[: bar.index("</div>")]
    widths = [float(w) for w in re.findall(r"flex:0 0 ([\d.]+)%", bar)]
    assert len(widths) == 6
    assert abs(sum(widths) - 100) < 0.01
    for title in ("database", "fetch", "compile", "ORM loading", "mapper config", "Python"):
        assert f'title="{title}: ' in bar


def test_statement_groups_formatted_and_expandable(report: Report) -> None:
    fragment = render_fragment(report)
    assert "301 executions, 2 shapes" in fragment
    assert '<tr><td class="n">300</td>' in fragment
    assert "SELECT addresses.id AS addresses_id,\n       addresses.email AS addresses_email" in fragment
    assert "WHERE ? = addresses.user_id</pre>" in fragment
    assert "generated 1, cached 299" in fragment
    # Executions of the N+1 group are capped, with the rest counted.
    assert f"{300 - MAX_EXECUTIONS} more executions" in fragment
    assert "<td>#51</td>" in fragment and "<td>#52</td>" not in fragment


def test_call_tree_is_nested_details_with_the_hot_path_open(report: Report) -> None:
    fragment = render_fragment(report)
    tree = fragment[fragment.index('<div class="sm-tree">') :]
    assert tree.index("&lt;profiled code&gt;") < tree.index("&lt;module&gt;") < tree.index("__get__")
    assert tree.index("__get__") < tree.index("_load_for_state") < tree.index("do_execute")
    summaries = re.findall(r"<details( open)?><summary>(.*?)</summary>", tree)

    def is_open(name: str) -> bool:
        return next(bool(opened) for opened, summary in summaries if name in summary)

    assert is_open("&lt;module&gt;") and is_open("__get__") and is_open("_load_for_state")
    assert not is_open("scalars")
    assert "<b>&lt;module&gt;</b>" in tree and "<b>__get__</b>" not in tree
    assert (
        'title="/venv/lib/python3.12/site-packages/sqlalchemy/orm/strategies.py">orm/strategies.py:846'
        in tree
    )


def test_huge_call_tree_is_capped() -> None:
    children = tuple(
        CallNode(
            f"f{i}", "/lib/m.py", i, 1, 1.0, 0.5, children=(CallNode(f"g{i}", "/lib/m.py", i, 1, 0.5, 0.5),)
        )
        for i in range(5_000)
    )
    root = CallNode("<profiled code>", "", 0, 1, 5000.0, 0.0, children=children, kind="cell")
    fragment = render_fragment(Report(wall_s=1.0, cpu_s=1.0, call_tree=root))
    assert fragment.count('<span class="sm-share">') == MAX_TREE_NODES
    assert f"{10_001 - MAX_TREE_NODES:,} more nodes not shown." in fragment
    assert parse(fragment).mismatches == []


def test_memory_plans_findings_warnings_notes(report: Report) -> None:
    fragment = render_fragment(report)
    assert "+3.2 MiB allocated at peak" in fragment and "(tracemalloc)" in fragment
    assert "<td><code>    print(user.name, len(user.addresses))</code></td>" in fragment
    assert (
        '<div class="sm-warn"><b>seq-scan</b>: full scan of addresses filtered on user_id (user_id)'
        in fragment
    )
    assert '<div class="sm-plan-node sm-warn" style="padding-left:18px"><b>SCAN addresses</b>' in fragment
    assert fragment.index('class="sm-card sm-high"') < fragment.index('class="sm-card sm-medium"')
    assert "<span class='sm-add'>+users = session.scalars(select(User).where(User.api_key != key)" in fragment
    assert "<pre>Index(&#x27;ix_addresses_user_id&#x27;, Address.user_id)</pre>" in fragment
    assert "<li>SAWarning: relationship X will copy column Y (line 2)</li>" in fragment
    assert "<li>EXPLAIN ran on the first execution of each shape.</li>" in fragment


def test_sections_follow_the_tabs_findings_first(report: Report) -> None:
    """The static report is the view's tabs in order, each from its own payload."""
    fragment = render_fragment(report)
    headings = re.findall(r"<h3>([^<:(]+)", fragment)
    assert headings == [
        "Where the time went",
        "Findings ",
        "SQL statements",
        "EXPLAIN plans",
        "Call tree",
        "Memory",
        "ORM cost",
    ]


def test_hostile_data_is_escaped_everywhere(hostile_report: Report, hostile: str) -> None:
    for markup in (render_fragment(hostile_report), render_page(hostile_report)):
        parsed = parse(markup)
        assert "script" not in parsed.names()
        assert "img" not in parsed.names()
        for tag, attrs in parsed.tags:
            for name, value in attrs:
                assert not name.startswith("on"), (tag, name, value)
        assert parsed.mismatches == []
        # The data is still there, as text: params, source, messages, function names.
        text = "".join(parsed.text)
        for shown in (
            "hunter2-top-secret<script>alert(1)</script>",
            "for user in users:" + hostile,
            "boom " + hostile,
            "N+1 lazy loads of User.addresses" + hostile,
            "<module>" + hostile,
            "full scan of addresses filtered on user_id" + hostile,
        ):
            assert shown in text, shown
        # File names appear in attributes, where the parser unescapes them back to the data.
        titles = [value for _, attrs in parsed.tags for name, value in attrs if name == "title"]
        assert any(value and value.endswith("strategies.py" + hostile) for value in titles)


def test_twenty_thousand_distinct_statements_are_capped() -> None:
    statements = tuple(
        Statement(
            f"SELECT * FROM t{i} WHERE id = ?",
            (i,),
            0.001 + i * 1e-7,
            1,
            False,
            f"fp{i}",
            "cached",
            2,
            "core",
            "sqlite://",
            "MainThread",
        )
        for i in range(20_000)
    )
    fragment = render_fragment(Report(wall_s=30.0, cpu_s=20.0, statements=statements))
    assert "19,950 more shapes not shown (19,950 executions" in fragment
    assert fragment.count("<details>") <= 50 + 10


def test_failed_statement_shows_its_error(report: Report) -> None:
    statements = list(report.statements)
    statements[0] = dataclasses.replace(statements[0], error="OperationalError: no such table: users")
    fragment = render_fragment(dataclasses.replace(report, statements=tuple(statements)))
    assert '<span class="sm-tag">1 failed</span>' in fragment
    assert "OperationalError: no such table: users" in fragment


def test_sql_beyond_the_sqlparse_budget_still_gets_line_breaks() -> None:
    statements = tuple(
        Statement(
            f"select t{i}.id from t{i} left outer join u on u.id = t{i}.u_id "
            f"where t{i}.x = ? order by t{i}.id",
            (i,),
            1.0 - i / 100,
            1,
            False,
            f"fp{i}",
            "cached",
            2,
            "core",
            "sqlite://",
            "MainThread",
        )
        for i in range(MAX_SQLPARSE_CALLS + 5)
    )
    fragment = render_fragment(Report(wall_s=40.0, cpu_s=40.0, statements=statements))
    assert (
        "<pre>SELECT t0.id\nFROM t0\nLEFT OUTER JOIN u ON u.id = t0.u_id\n"
        "WHERE t0.x = ?\nORDER BY t0.id</pre>" in fragment
    )
    last = MAX_SQLPARSE_CALLS + 4
    assert (
        f"<pre>select t{last}.id\nfrom t{last}\nleft outer join u on u.id = t{last}.u_id\n"
        f"where t{last}.x = ?\norder by t{last}.id</pre>"
    ) in fragment


def test_execution_rows_have_an_overall_budget() -> None:
    statements = tuple(
        Statement(
            f"SELECT {g}", (i,), 0.001, 1, False, f"fp{g}", "cached", 2, "core", "sqlite://", "MainThread"
        )
        for g in range(MAX_GROUPS)
        for i in range(MAX_EXECUTIONS + 1)
    )
    fragment = render_fragment(Report(wall_s=1.0, cpu_s=1.0, statements=statements))
    listed = fragment.count("<tr><td>#")
    assert listed <= MAX_EXECUTION_ROWS + MAX_GROUPS * MIN_EXECUTIONS
    assert fragment.count("1 more execution<") >= 1
