"""Passwords never reach a report, its repr, HTML or JSON; `--redact` hides parameter
values in saved files; data in every HTML output is escaped."""

from __future__ import annotations

import dataclasses
import html.parser
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_plus

import pytest
import sqlalchemy as sa
from IPython.core.interactiveshell import InteractiveShell

import sqla_magic
from sqla_magic.magic.display import report_bundle
from sqla_magic.model import (
    CallNode,
    CapturedWarning,
    CellError,
    Finding,
    Memory,
    MemoryLine,
    Plan,
    PlanNode,
    PlanWarning,
    Report,
    Rewrite,
    Statement,
)
from sqla_magic.render.html import render_fragment, render_page
from sqla_magic.render.text import render_text
from tests.reliability.conftest import run

PASSWORD = "s3cret-pw"
PAYLOADS = (
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(2)",
    "</pre></details><svg onload=alert(3)>",
    '<a href="javascript:alert(4)">x</a>',
    "]]><!-- -->&amp;<style>*{}</style>",
)
HOSTILE = " ".join(PAYLOADS)


# -- passwords -------------------------------------------------------------------------------


@pytest.fixture
def secret_engine(pg_engine: sa.Engine) -> Iterator[sa.Engine]:
    """The test database through a URL with a password (the server trusts any password)."""
    engine = sa.create_engine(pg_engine.url.set(password=PASSWORD))
    yield engine
    engine.dispose()


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


def _every_output(report: Report) -> dict[str, str]:
    return {
        "repr": repr(report),
        "text": render_text(report),
        "html": report._repr_html_(),
        "page": report.to_html(),
        "json": report.to_json(),
        "bundle": json.dumps(report_bundle(report)),
    }


def test_password_never_appears(secret_engine: sa.Engine, table_prefix: str) -> None:
    table = f"{table_prefix}secret"
    with secret_engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (id int primary key)")
        conn.exec_driver_sql(f"INSERT INTO {table} VALUES (1)")
    full_url = secret_engine.url.render_as_string(hide_password=False)
    assert PASSWORD in full_url
    try:
        with pytest.raises(RuntimeError), sqla_magic.profile(explain_analyze=True) as report:
            with secret_engine.connect() as conn:
                conn.exec_driver_sql(f"SELECT * FROM {table} WHERE id > %(n)s", {"n": 0}).all()
                with pytest.raises(sa.exc.IntegrityError):
                    conn.exec_driver_sql(f"INSERT INTO {table} VALUES (1)")
            raise RuntimeError(f"could not reach {full_url}")
        assert len(report.statements) == 2 and report.plans
        assert report.statements[0].engine == "postgresql+psycopg2://postgres:***@127.0.0.1:5432/test"
        for name, output in _every_output(report).items():
            assert PASSWORD not in output, name
        assert PASSWORD not in repr(report.statements) + repr(report.error) + repr(report.notes)
        assert PASSWORD not in str(sqla_magic.last_report())
    finally:
        with secret_engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")


@pytest.mark.filterwarnings("ignore:connected to")
def test_password_in_a_warning_or_note_is_hidden(secret_engine: sa.Engine) -> None:
    import warnings

    full_url = secret_engine.url.render_as_string(hide_password=False)
    with sqla_magic.profile(explain=False) as report, secret_engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1").all()
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # shown even when this line warned before
            warnings.warn(f"connected to {full_url}", stacklevel=1)
    assert report.warnings and "***" in report.warnings[0].message
    assert PASSWORD not in report.to_json()


# -- redaction of saved files ----------------------------------------------------------------


def test_saved_files_redact_parameters(shell: InteractiveShell, tmp_path: Path) -> None:
    token = "tok-4f9a1c-very-private"
    for suffix in ("json", "html"):
        target = tmp_path / f"report.{suffix}"
        run(
            shell,
            f"%%sqlprofile --quiet --save {target} --redact\n"
            f"session.execute(sa.text('SELECT :token AS t'), {{'token': '{token}'}}).all()\n"
            f"session.execute(sa.text('SELECT * FROM author WHERE name = :n'), {{'n': '{token}'}}).all()\n"
            f"raise ValueError('bad token ' + {token!r})\n",
        )
        saved = target.read_text()
        assert token not in saved and "SELECT" in saved
        assert token in sqla_magic.last_report().to_json()  # the kernel's own copy is whole
        if suffix == "json":
            statements = json.loads(saved)["statements"]
            assert [s["params"] for s in statements] == [["?"], ["?"]]


# -- escaping --------------------------------------------------------------------------------


class _Audit(html.parser.HTMLParser):
    """Tags, attributes and text of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def audit(document: str) -> _Audit:
    parser = _Audit()
    parser.feed(document)
    parser.close()
    return parser


def _hostile_report() -> Report:
    """Every free-text field of a report holds the payloads."""
    node = CallNode(HOSTILE, HOSTILE, 1, 1, 0.2, 0.1, kind="cell")
    statement = Statement(
        sql=f"SELECT '{HOSTILE}' FROM t WHERE a = ?",
        params=(HOSTILE, {"k": HOSTILE}),
        duration_s=0.01,
        rowcount=1,
        executemany=False,
        fingerprint=HOSTILE,
        cache="cached",
        line=2,
        origin=HOSTILE,
        engine=HOSTILE,
        thread=HOSTILE,
        dialect=HOSTILE,
        error=HOSTILE,
    )
    plan_node = PlanNode(HOSTILE, HOSTILE, table=HOSTILE, index=HOSTILE, filter_columns=(HOSTILE,))
    return Report(
        wall_s=0.5,
        cpu_s=0.4,
        statements=(statement, dataclasses.replace(statement, duration_s=0.02, line=3)),
        layers={"database": 0.1, "python": 0.4},
        call_tree=CallNode("<profiled code>", "", 0, 1, 0.5, 0.1, children=(node,), kind="cell"),
        memory=Memory(1000, lines=(MemoryLine(2, 10, 10, HOSTILE),), method="tracemalloc"),
        plans=(
            Plan(
                fingerprint=HOSTILE,
                dialect=HOSTILE,
                analyzed=False,
                root=plan_node,
                warnings=(PlanWarning("seq-scan", HOSTILE, HOSTILE, (HOSTILE,)),),
                statement=0,
                sql=HOSTILE,
                note=HOSTILE,
                raw=(HOSTILE,),
            ),
        ),
        findings=(
            Finding(
                rule="n-plus-one",
                severity="high",
                title=HOSTILE,
                message=HOSTILE,
                lines=(2,),
                statements=(0,),
                rewrite=Rewrite(HOSTILE, HOSTILE + "\nx = 1", HOSTILE),
                fix=HOSTILE,
            ),
        ),
        source=f"%%sqlprofile\nq = '{HOSTILE}'\n",
        filename=HOSTILE,
        started_at=HOSTILE,
        objects_loaded={HOSTILE: 3},
        warnings=(CapturedWarning(HOSTILE, HOSTILE, 2, HOSTILE),),
        error=CellError(HOSTILE, HOSTILE, 2),
        notes=(HOSTILE,),
        versions={HOSTILE: HOSTILE},
    )


def _html_outputs(report: Report) -> dict[str, str]:
    return {
        "_repr_html_": report._repr_html_(),
        "to_html": report.to_html(),
        "fragment": render_fragment(report),
        "page": render_page(report),
        "bundle": report_bundle(report)["text/html"],
    }


def _assert_inert(document: str, name: str) -> None:
    found = audit(document)
    assert "script" not in found.tags, name
    for tag in ("img", "svg", "a", "iframe", "object", "embed"):
        assert tag not in found.tags, (name, tag)
    for attribute, value in found.attributes:
        assert not attribute.startswith("on"), (name, attribute)
        if attribute in ("href", "src", "action", "formaction", "xlink:href"):
            assert "javascript:" not in value.lower(), (name, attribute)
    # the payloads arrive as text, not markup
    text = "".join(found.text)
    assert "<script>alert('x')</script>" in text, name


def test_every_html_output_escapes_hand_built_data() -> None:
    report = _hostile_report()
    baseline = audit(render_page(Report(wall_s=0.1, cpu_s=0.1)))
    assert "script" not in baseline.tags
    for name, document in _html_outputs(report).items():
        _assert_inert(document, name)
    assert HOSTILE.split()[0] in render_text(report)


def test_every_html_output_escapes_captured_data(shell: InteractiveShell, tmp_path: Path) -> None:
    shell.user_ns["hostile"] = HOSTILE
    target = tmp_path / "page.html"
    run(
        shell,
        f"%%sqlprofile --quiet -o rep --save {target}\n"
        "query = \"SELECT '<script>alert(1)</script>' AS x, :p AS y\"\n"
        "session.execute(sa.text(query), {'p': hostile}).all()\n"
        "session.execute(sa.text('SELECT * FROM \"<img src=x onerror=alert(1)>\"')).all()\n",
    )
    report = shell.user_ns["rep"]
    assert report.error is not None and "<img src=x onerror=alert(1)>" in report.error.message
    assert any(s.error and "onerror" in s.error for s in report.statements)
    outputs = _html_outputs(report)
    outputs["saved"] = target.read_text()
    for name, document in outputs.items():
        found = audit(document)
        assert "script" not in found.tags and "img" not in found.tags and "svg" not in found.tags, name
        assert not [a for a, _ in found.attributes if a.startswith("on")], name
        assert "<script>alert(1)</script>" in "".join(found.text), name
