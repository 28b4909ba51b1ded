"""Requests are units: rules that count repetitions count within one test-client request."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from sqla_magic.analysis import evidence
from sqla_magic.analysis.rules import duplicate_query, n_plus_one
from sqla_magic.model import Statement
from tests.analysis.test_rules import LIMITS, report, stmt


def served(request_index: int, *statements: Statement) -> list[Statement]:
    return [
        dataclasses.replace(s, request=f"GET /page/{request_index}", request_index=request_index)
        for s in statements
    ]


def test_work_done_once_per_request_is_not_a_duplicate() -> None:
    per_request = [
        s
        for n in range(20)
        for s in served(n, stmt("SELECT user WHERE id = ?", params=(1,)), stmt("SELECT count(*) FROM post"))
    ]
    assert duplicate_query.rule(report(*per_request), "", LIMITS) == []
    # The same statements outside any request are duplicates: the code ran them again and again.
    plain = [stmt("SELECT user WHERE id = ?", params=(1,)) for _ in range(20)]
    assert duplicate_query.rule(report(*plain), "", LIMITS)


def test_a_duplicate_within_one_request_names_that_request_only() -> None:
    quiet = [s for n in range(5) for s in served(n, stmt("SELECT count(*) FROM post"))]
    noisy = served(5, *[stmt("SELECT count(*) FROM post") for _ in range(4)])
    whole = report(*quiet, *noisy)
    (found,) = duplicate_query.rule(whole, "", LIMITS)
    assert found.statements == tuple(range(5, 9))
    assert "in request `GET /page/5`" in found.message
    assert "4 of them the same SELECT" in found.message


def test_lazy_loads_are_counted_per_request() -> None:
    few_each = [
        s for n in range(20) for s in served(n, *[stmt("SELECT book", "lazy load Author.books", 4)] * 3)
    ]
    assert n_plus_one.rule(report(*few_each), "", LIMITS) == []
    many = served(20, *[stmt("SELECT book", "lazy load Author.books", 4)] * 12)
    (found,) = n_plus_one.rule(report(*few_each, *many), "", LIMITS)
    assert len(found.statements) == 12 and "in request `GET /page/20`" in found.message


def test_the_index_splits_statements_by_request() -> None:
    statements = [*served(0, stmt("SELECT a")), stmt("SELECT b"), *served(1, stmt("SELECT c"))]
    index = evidence.index(report(*statements))
    assert index.by_request == {0: [0], None: [1], 1: [2]}
    assert index.per_request([0, 1, 2]) == {0: [0], None: [1], 1: [2]}


@pytest.mark.skipif(sa.__version__.startswith("1."), reason="the shop app uses SQLAlchemy 2.0's typed style")
def test_an_asgi_app_through_starlettes_test_client() -> None:
    from starlette.testclient import TestClient

    from sqla_magic import profile
    from tests.scenarios.shop.asgi import create_app, shop_engine

    engine = shop_engine()
    client = TestClient(create_app(engine))
    with profile(explain=False) as report_:
        for _ in range(20):
            client.get("/dashboard")
        client.get("/counts")
    rules = [f.rule for f in report_.findings]
    assert rules.count("duplicate-query") == 1, [f.message for f in report_.findings]
    (duplicate,) = (f for f in report_.findings if f.rule == "duplicate-query")
    assert "in request `GET /counts`" in duplicate.message
    assert {report_.statements[i].request for i in duplicate.statements} == {"GET /counts"}
    engine.dispose()
