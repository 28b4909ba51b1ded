"""Passwords are found by the URL's structure and `--redact` takes the data out (the cases on
real engines are in `tests/reliability/test_secrets.py`)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from sqla_magic import privacy
from sqla_magic.model import CellError, Plan, PlanNode, Report, Statement


def test_a_password_in_the_query_string_is_hidden() -> None:
    url = sa.engine.make_url("postgresql://u@h/db?password=qs-secret&sslmode=require")
    assert privacy.url_passwords(url) == {"qs-secret"}
    assert "qs-secret" not in privacy.hidden_url(url) and "sslmode=require" in privacy.hidden_url(url)


def _report_with_data(secret: str, number: int, ident: uuid.UUID) -> Report:
    node = PlanNode(
        label="Seq Scan on person",
        detail=f"Filter: ((ssn)::text = '{secret}'::text) AND (id = {number}) AND (ref = '{ident}'::uuid)"
        f" AND (balance > 1234.56)",
    )
    error = (
        f'duplicate key value violates unique constraint "person_ssn_key"\n'
        f"DETAIL:  Key (ssn)=({secret}) already exists.\n[parameters: ('{secret}', {number})]"
    )
    return Report(
        wall_s=1.0,
        cpu_s=1.0,
        statements=(
            Statement(
                sql="SELECT * FROM person WHERE ssn = %(ssn)s",
                params={"ssn": secret[:200] + f"… (+{len(secret) - 200} chars)", "id": number},
                duration_s=0.1,
                rowcount=0,
                executemany=False,
                cache="generated",
                line=1,
                origin="core",
                engine="postgresql://u:***@h/db",
                thread="MainThread",
                fingerprint="f",
                error=error,
            ),
        ),
        plans=(Plan(fingerprint="f", dialect="postgresql", analyzed=False, root=node, note=f"id {number}"),),
        error=CellError(type="IntegrityError", message=error),
    )


def test_redact_takes_long_strings_numbers_uuids_and_decimals_out() -> None:
    secret = "123-45-6789-" + "x" * 300 + "-endmark"
    number, ident = 987654321, uuid.uuid4()
    report = privacy.redacted(_report_with_data(secret, number, ident))
    text = report.to_json()
    for leaked in ("endmark", "123-45", str(number), str(ident), "1234.56", "xxxx"):
        assert leaked not in text, leaked
    assert report.statements[0].params == {"ssn": "?", "id": "?"}
    assert report.plans[0].root is not None and "Seq Scan on person" in report.plans[0].root.label


def test_the_statements_and_the_call_tree_are_masked_alike_read_by_column_or_one_by_one() -> None:
    import dataclasses
    import json

    from sqla_magic.model import CallNode, Site

    url = "postgresql://bob:hunter22@db/x"

    def statement(i: int) -> Statement:
        return Statement(
            sql="SELECT 1",
            params=("hunter22", i),
            duration_s=0.1,
            rowcount=1,
            executemany=False,
            fingerprint="f",
            cache=f"cache {url}" if i == 4 else "cached",
            line=1,
            origin=f"core {url}" if i == 3 else "core",
            engine="sqlite://",
            thread=f"worker {url}" if i == 2 else "MainThread",
            error=f"failed {url}" if i == 0 else None,
            request="GET /login?password=hunter22" if i == 1 else None,
            site=Site("app.py", 1, "f"),
        )

    tree = CallNode(
        "<profiled code>", "", 0, 1, 1.0, 0.5, children=(CallNode("f", "f.py", 1, 1, 0.5, 0.5, layer=url),)
    )
    for count in (5, 8, 40):  # walked item by item below eight, by column from eight
        plain = json.loads(Report(1.0, 1.0, statements=tuple(map(statement, range(count)))).to_json())
        plain["statements"][-1]["rows"] = url  # a text in a numeric field, as an edited file may hold
        report = dataclasses.replace(Report.from_json(json.dumps(plain)), call_tree=tree)
        masked = privacy.without_passwords(report, passwords={"hunter22"}).to_json()
        assert "hunter22" not in masked, count
