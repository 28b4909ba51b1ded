"""The report grouped by test-client request: text, static HTML and the widget's payload."""

from __future__ import annotations

import dataclasses

from sqla_magic.model import Report, Statement
from sqla_magic.render.html import render_page
from sqla_magic.render.summary import group_requests
from sqla_magic.render.text import render_text
from sqla_magic.render.view_model import ReportView
from tests.analysis.test_rules import report, stmt


def served() -> Report:
    def at(request: str, index: int, sql: str, params: tuple[int, ...] = ()) -> Statement:
        return dataclasses.replace(stmt(sql, params=params), request=request, request_index=index)

    return report(
        stmt("SELECT setup"),
        at("GET /dashboard", 0, "SELECT user", (1,)),
        at("GET /dashboard", 0, "SELECT count(*) FROM post"),
        at("GET /dashboard", 1, "SELECT user", (1,)),
        at("GET /q?<script>", 2, "SELECT count(*) FROM post"),
        at("GET /q?<script>", 2, "SELECT count(*) FROM post"),
    )


def test_requests_are_grouped_in_the_order_they_ran() -> None:
    groups = group_requests(served())
    assert [(g.request, g.index, g.indexes, g.repeated) for g in groups] == [
        ("GET /dashboard", 0, (1, 2), 0),
        ("GET /dashboard", 1, (3,), 0),
        ("GET /q?<script>", 2, (4, 5), 1),
    ]
    assert group_requests(report(stmt("SELECT a"))) == []


def test_text_html_and_widget_show_the_requests() -> None:
    whole = served()
    text = render_text(whole)
    assert "Requests (3 test-client requests, 5 of 6 statements)" in text
    assert "GET /q?<script>" in text
    page = render_page(whole)
    assert "<h3>Requests: 3 test-client requests, 5 of 6 statements</h3>" in page
    assert "GET /q?&lt;script&gt;" in page and "GET /q?<script>" not in page
    payload = ReportView(whole).answer("groups", {})
    assert [r["request"] for r in payload["requests"]] == [
        "GET /dashboard",
        "GET /dashboard",
        "GET /q?<script>",
    ]
    assert payload["requests"][2]["repeated"] == "1"
    plain = render_text(report(stmt("SELECT a")))
    assert "Requests" not in plain
