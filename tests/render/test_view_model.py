"""What each tab of the notebook view holds, computed without a browser."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from conftest import CELL, REWRITTEN, make_report, node

from sqla_magic.model import CallNode, Finding, Memory, Report, Statement
from sqla_magic.render import view_model
from sqla_magic.render.view_model import ReportView, clean_text, rewrite_source
from sqla_magic.render.widget import STATIC
from sqla_magic.render.widget.tabs import TABS, findings
from sqla_magic.render.widget.tabs import memory as memory_tab
from sqla_magic.sqltext import sql_tokens

ESM = (STATIC / "widget.js").read_text(encoding="utf-8")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _every_payload(view: ReportView) -> list[Any]:
    return [
        view.header(),
        view.answer("findings", {}),
        view.answer("groups", {}),
        view.answer("executions", {"group": 0}),
        view.answer("tree", {}),
        view.answer("children", {"node": 1}),
        view.answer("memory", {}),
        view.answer("explain", {}),
        view.answer("orm", {}),
        view.answer("compare", {}),
    ]


def _many_shapes(shapes: int, per_shape: int = 1) -> Report:
    base = make_report()
    statements = [
        dataclasses.replace(
            base.statements[1], fingerprint=f"f{shape}", sql=f"SELECT {shape}", duration_s=0.001 * (shape + 1)
        )
        for shape in range(shapes)
        for _ in range(per_shape)
    ]
    return dataclasses.replace(base, statements=tuple(statements))


# -- header ---------------------------------------------------------------------------


def test_header_has_the_headline_figures_and_the_layers(report: Report) -> None:
    header = ReportView(report).header()
    figures = {f["label"]: f["value"] for f in header["figures"]}
    assert figures == {
        "wall time": "520 ms",
        "statements": "301",
        "rows": "900",
        "ORM objects": "900",
        "allocated at peak": "+3.2 MiB",
        "findings": "2",
    }
    assert [layer["name"] for layer in header["layers"]] == [
        "database",
        "fetch",
        "compile",
        "orm_load",
        "mapper_config",
        "python",
    ]
    assert abs(sum(layer["share"] for layer in header["layers"]) - 1) < 0.001
    assert header["first_tab"] == "findings"
    tabs = {tab["name"]: tab for tab in header["tabs"]}
    # Every tab in the registry's order; Compare only for a run made with --compare.
    assert [tab["name"] for tab in header["tabs"]] == [tab.name for tab in TABS if tab.name != "compare"]
    assert (tabs["statements"]["title"], tabs["statements"]["count"]) == ("Statements", "2")
    assert header["error"] is None
    assert "ipykernel" not in header["context"]  # a cell's pseudo-file says nothing to the reader


def test_header_without_memory_or_findings_opens_on_statements(report: Report) -> None:
    header = view_model.header(ReportView(dataclasses.replace(report, memory=None, findings=())))
    assert "allocated at peak" not in [f["label"] for f in header["figures"]]
    assert header["first_tab"] == "statements"
    assert {tab["name"]: tab["count"] for tab in header["tabs"]}["memory"] == "off"


# -- findings ---------------------------------------------------------------------------


def test_findings_come_high_severity_first_with_their_evidence_and_rewrite(report: Report) -> None:
    cards = ReportView(report).answer("findings", {})
    assert [c["rule"] for c in cards] == ["n-plus-one", "seq-scan"]
    n_plus_one = cards[0]
    assert (n_plus_one["index"], n_plus_one["number"]) == (1, 2)  # index into report.findings
    assert n_plus_one["evidence"]["summary"].startswith("300 statements")
    assert n_plus_one["evidence"]["shapes"][0]["count"] == "300"
    assert n_plus_one["evidence"]["plan_warnings"] == ["seq-scan: full scan of addresses filtered on user_id"]
    assert n_plus_one["lines"] == [{"line": 4, "source": ""}]  # the fixture's source lacks the magic line
    with_magic = findings.findings(dataclasses.replace(report, source="%%sqlprofile\n" + CELL))
    assert with_magic[0]["lines"][0]["source"] == CELL.splitlines()[2]
    rewrite = n_plus_one["rewrite"]
    assert rewrite["code"] == REWRITTEN and rewrite["original"] == CELL
    kinds = [kind for kind, _ in rewrite["diff"]]
    assert kinds[:3] == ["meta", "meta", "hunk"] and "add" in kinds and "del" in kinds
    assert cards[1]["rewrite"] is None and cards[1]["fix"].startswith("Index(")


def test_rewrite_source_numbers_findings_from_one(report: Report) -> None:
    assert rewrite_source(report, 2) == REWRITTEN
    for number, problem in ((1, "has no rewrite"), (3, "no finding #3"), (0, "no finding #0")):
        try:
            rewrite_source(report, number)
        except ValueError as error:
            assert problem in str(error)
        else:
            raise AssertionError(f"finding {number} should be refused")


# -- statements ---------------------------------------------------------------------------


def test_groups_are_paged_and_sortable() -> None:
    view = ReportView(_many_shapes(120))
    first = view.answer("groups", {})
    assert (first["page"], first["pages"], len(first["rows"])) == (0, 3, 50)
    assert first["rows"][0]["sql"] == "SELECT 119"  # slowest total first
    last = view.answer("groups", {"page": 2})
    assert len(last["rows"]) == 20 and last["rows"][-1]["sql"] == "SELECT 0"
    assert view.answer("groups", {"page": 99})["page"] == 2
    by_first = view.answer("groups", {"sort": "first"})
    assert by_first["rows"][0]["sql"] == "SELECT 0"
    assert view.answer("groups", {"sort": "nonsense"})["sort"] == "total"


def test_executions_of_a_group_are_paged_with_their_details(report: Report) -> None:
    view = ReportView(report)
    groups = view.answer("groups", {"sort": "count"})
    lazy = groups["rows"][0]
    assert lazy["count"] == "300" and lazy["cache"] == "generated 1, cached 299"
    page = view.answer("executions", {"group": lazy["id"], "page": 5})
    assert (page["page"], page["pages"], len(page["rows"])) == (5, 6, 50)
    row = page["rows"][-1]
    assert row == {
        "index": 300,
        "number": 301,
        "ms": row["ms"],
        "rows": "2",
        "cache": "cached",
        "line": "4",
        "origin": "lazy load User.addresses",
        "params": "[300]",
        "sets": "",
        "error": "",
        "request": "",
    }
    assert ["kw", "SELECT"] in page["sql_tokens"] and ["param", "?"] in page["sql_tokens"]


def test_sql_tokens_keep_the_text_and_mark_keywords_strings_and_parameters() -> None:
    sql = "SELECT name FROM users WHERE note = 'it''s' AND id = :id -- why\nLIMIT 5"
    tokens = sql_tokens(sql)
    assert "".join(text for _, text in tokens) == sql
    assert ["str", "'it''s'"] in tokens and ["param", ":id"] in tokens and ["num", "5"] in tokens
    assert ["comment", "-- why"] in tokens and ["kw", "LIMIT"] in tokens


# -- call tree ------------------------------------------------------------------------------


def test_tree_opens_the_hot_path_and_gives_children_on_request(report: Report) -> None:
    view = ReportView(report)
    tree = view.answer("tree", {})
    root = tree["root"]
    path = [root["name"]]
    row = root
    while "open" in row:
        row = next(child for child in row["open"]["rows"] if child.get("hot"))
        path.append(row["name"])
    assert path[:5] == ["<profiled code>", "<module>", "__get__", "_load_for_state", "execute"]
    module = root["open"]["rows"][0]
    assert module["kind"] == "cell" and module["open"]["rows"][2]["kind"] == "builtin"
    scalars = module["open"]["rows"][1]
    assert "open" not in scalars  # off the hot path: closed, fetched on request
    children = view.answer("children", {"node": scalars["id"]})
    assert [c["name"] for c in children["rows"]] == ["configure_mappers"]
    assert children["rows"][0]["layer"] == "mapper_config"


def test_wide_nodes_send_their_children_a_page_at_a_time(report: Report) -> None:
    wide = CallNode(
        "<profiled code>",
        "",
        0,
        1,
        1.0,
        0.0,
        kind="cell",
        children=tuple(node(f"f{i}", "orm/query.py", i, 1, 0.001 * (500 - i), 0.0) for i in range(250)),
    )
    view = ReportView(dataclasses.replace(report, call_tree=wide))
    first = view.answer("tree", {})["root"]["open"]
    assert len(first["rows"]) == view_model.CHILDREN_PAGE and first["more"] == 150
    rest = view.answer("children", {"node": 0, "offset": 200})
    assert [r["name"] for r in rest["rows"]][:2] == ["f200", "f201"] and rest["more"] == 0


def test_a_100k_node_tree_sends_only_what_is_open() -> None:
    leaves = tuple(node(f"leaf{i}", "sql/compiler.py", i, 1, 1e-6, 1e-6) for i in range(1000))
    mids = tuple(node(f"mid{j}", "orm/query.py", j, 1, 0.001, 0.0, *leaves) for j in range(100))
    root = CallNode("<profiled code>", "", 0, 1, 0.1, 0.0, children=mids, kind="cell")
    view = ReportView(dataclasses.replace(make_report(), call_tree=root))
    payload = view.answer("tree", {})
    assert len(json.dumps(payload)) < 100_000
    assert payload["nodes"] <= 1 + 2 * view_model.CHILDREN_PAGE


# -- memory, plans, ORM ---------------------------------------------------------------------------


def test_memory_tab(report: Report) -> None:
    memory = ReportView(report).answer("memory", {})
    assert memory["peak"] == "+3.2 MiB" and memory["method"] == "tracemalloc"
    assert [line["line"] for line in memory["lines"]] == [2, 3, 4]
    assert memory["lines"][0]["heavy"] and not memory["lines"][1]["heavy"]
    rss_only = memory_tab.memory(dataclasses.replace(report, memory=Memory(1024)))
    assert rss_only["lines"] == [] and "--memory-lines" in rss_only["hint"]
    assert memory_tab.memory(dataclasses.replace(report, memory=None))["present"] is False


def test_explain_tab_marks_the_warned_plan_nodes(report: Report) -> None:
    (plan,) = ReportView(report).answer("explain", {})
    assert plan["title"] == "EXPLAIN of statement #2"
    assert plan["warnings"][0]["kind"] == "seq-scan"
    assert [(n["depth"], n["label"], n["warned"]) for n in plan["nodes"]] == [
        (0, "QUERY PLAN", False),
        (1, "SCAN addresses", True),
    ]


def test_orm_cost_per_class_per_loader_function_and_per_relationship(report: Report) -> None:
    instance = node(
        "_instance",
        "orm/loading.py",
        1070,
        900,
        0.05,
        0.02,
        node("_instance", "orm/loading.py", 1070, 600, 0.03, 0.03),
    )
    tree = CallNode("<profiled code>", "", 0, 1, 0.5, 0.0, children=(instance,), kind="cell")
    orm = ReportView(dataclasses.replace(report, call_tree=tree)).answer("orm", {})
    assert [(c["name"], c["objects"], c["estimate"]) for c in orm["classes"]] == [
        ("Address", "600", "60.0 ms"),
        ("User", "300", "30.0 ms"),
    ]
    # Nested _instance calls: calls and own time add up, total time counts the outer one only.
    assert orm["functions"] == [
        {"function": "loading.py:_instance", "calls": "1,500", "self": "50.0 ms", "total": "50.0 ms"}
    ]
    assert orm["relationships"][0]["origin"] == "lazy load User.addresses"
    assert orm["relationships"][0]["statements"] == "300"


# -- before / after -------------------------------------------------------------------------------


def test_the_compare_tab_lays_out_a_comparison(report: Report) -> None:
    after = dataclasses.replace(report, statements=report.statements[:2], wall_s=0.1, findings=())
    view = ReportView(after, comparison=report.compare(after, names=("n+1", "fixed")))
    payload = view.answer("compare", {})
    assert payload["names"] == ["n+1", "fixed"]
    measures = {m["name"]: m for m in payload["measures"]}
    assert (measures["statements"]["before"], measures["statements"]["after"]) == ("301", "2")
    assert measures["statements"]["change"] == "-299 (-99%), better"
    assert measures["wall time"]["verdict"] == "better" and not measures["wall time"]["layer"]
    assert any(m["layer"] for m in payload["measures"])
    assert payload["shapes_summary"] == "1 changed, 1 unchanged"
    assert sorted((f["status"], f["rule"]) for f in payload["findings"]) == [
        ("fixed", "n-plus-one"),
        ("fixed", "seq-scan"),
    ]
    assert ReportView(after).answer("compare", {}) is None


# -- safety -------------------------------------------------------------------------------------------


def test_hostile_values_reach_the_browser_as_plain_text(hostile_report: Report, hostile: str) -> None:
    comparison = hostile_report.compare(dataclasses.replace(hostile_report, findings=()))
    payloads = _every_payload(ReportView(hostile_report, comparison=comparison))
    strings = [s for payload in payloads for s in _strings(payload)]
    # Markup is not turned into entities (the browser shows it as text, via textContent) ...
    assert any(hostile in s for s in strings)
    assert not any("&lt;" in s for s in strings)
    json.dumps(payloads)


def test_the_front_end_never_parses_data_as_html() -> None:
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function", ESM)
    # ... and what it sends back is a request name with numbers, never code or SQL.
    sends = re.findall(r"model\.send\(([^)]*)\)", ESM)
    assert sends == ["{ request: kind, id, args: args || {} }"]
    requests = re.findall(r'api\.request\("(\w+)"(?:, \{([^}]*)\})?', ESM)
    assert {name for name, _ in requests} == {
        "hello",
        "findings",
        "groups",
        "executions",
        "tree",
        "children",
        "memory",
        "explain",
        "orm",
        "compare",
        "verify",
    }
    assert {args.strip() for _, args in requests if args} == {
        "sort, page",
        "group, page",
        "node: row.id, offset: 0",
        "node: row.id, offset: page.offset + page.rows.length",
        "finding: card.index",
    }


def test_invisible_and_oversized_text_is_made_visible_and_cut() -> None:
    assert clean_text("a\x1b[31mred\u202egnp.exe\x00") == "a\\x1b[31mred\\u202egnp.exe\\x00"
    assert clean_text("line\nnext\ttab") == "line\nnext\ttab"
    assert clean_text("\ud800") == "\\ud800"
    long = clean_text("x" * (view_model.MAX_TEXT + 10))
    assert long.endswith("… (+10 chars)")


def test_statement_with_odd_parameters_and_an_error(report: Report) -> None:
    odd = Statement(
        sql="UPDATE t SET x = ?",
        params=({"\x1b": object.__name__}, float("nan")),
        duration_s=0.001,
        rowcount=0,
        executemany=True,
        fingerprint="f-odd",
        cache="no key",
        line=None,
        origin="flush",
        engine="sqlite://",
        thread="MainThread",
        param_sets=3,
        error="IntegrityError: <b>boom</b>",
    )
    view = ReportView(
        dataclasses.replace(
            report, statements=(odd,), findings=(Finding("x", "low", "t", "m", statements=(0, 7)),)
        )
    )
    row = view.answer("executions", {"group": 0})["rows"][0]
    assert row["sets"] == "3" and row["line"] == "" and row["error"] == "IntegrityError: <b>boom</b>"
    assert "\x1b" not in row["params"]  # json.dumps writes it as \\u001b
    assert view.answer("findings", {})[0]["evidence"]["summary"].startswith("1 statement")
