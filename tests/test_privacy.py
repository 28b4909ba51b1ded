"""Passwords are masked by structure and `--redact` takes the data out, on real engines."""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Iterator
from urllib.parse import quote_plus

import pytest
import sqlalchemy as sa

import sqla_magic
from sqla_magic import privacy
from sqla_magic.model import CellError, Plan, PlanNode, Report, Statement


@pytest.fixture
def postgres_password_engine(pg_engine: sa.Engine) -> Iterator[sa.Engine]:
    """A password that is also a word of the URL (the server trusts any password)."""
    engine = sa.create_engine(pg_engine.url.set(password="postgres"))
    yield engine
    engine.dispose()


def test_a_password_that_is_a_common_word_masks_nothing_else(postgres_password_engine: sa.Engine) -> None:
    source = "rows = conn.exec_driver_sql(\"SELECT 'postgres' AS who\").all()\n"
    full_url = postgres_password_engine.url.render_as_string(False)
    with (
        sqla_magic.profile(memory=False, source=source) as report,
        postgres_password_engine.connect() as conn,
    ):
        rows = conn.exec_driver_sql("SELECT 'postgres' AS who").all()
        warnings.warn(f"connected to {full_url}", stacklevel=1)
    assert rows == [("postgres",)]
    (statement,) = [s for s in report.statements if "who" in s.sql]
    assert statement.engine.startswith("postgresql+psycopg2://postgres:***@")
    assert statement.sql == "SELECT 'postgres' AS who" and report.source == source
    assert all(p.dialect == "postgresql" for p in report.plans)
    (warning,) = [w for w in report.warnings if "connected" in w.message]
    assert "postgres:***@" in warning.message and "postgresql+psycopg2" in warning.message
    assert "***ql" not in report.to_json()


@pytest.mark.parametrize("password", ["p@ss/wörd:1", "ab", "s3cret-pw"])
def test_passwords_of_every_form_are_hidden(pg_engine: sa.Engine, password: str) -> None:
    engine = sa.create_engine(pg_engine.url, connect_args={"password": password})
    never_ran = sa.create_engine(pg_engine.url.set(password=password))
    encoded = quote_plus(password)
    with sqla_magic.profile(memory=False) as report:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT :p AS echoed"), {"p": password}).all()
        warnings.warn(f"failed: postgresql://u:{encoded}@h/db and password={password};", stacklevel=1)
        warnings.warn(f"retry {never_ran.url.render_as_string(False)}", stacklevel=1)
    (echoed,) = [s for s in json.loads(report.to_json())["statements"] if "echoed" in s["sql"]]
    assert echoed["params"] == {"p": "***"}
    for message in (w.message for w in report.warnings):
        assert encoded not in message.split("@")[0].split("//")[-1] or "***" in message
        assert f"password={password}" not in message
    assert "u:***@h" in report.warnings[0].message and "password=***" in report.warnings[0].message
    engine.dispose()


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
