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
