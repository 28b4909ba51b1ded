"""The order after capture: rules one by one, EXPLAIN, plan rules, privacy; and `profile()`'s target."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import analysis, demo, pipeline, profile
from sqla_magic.model import Finding, Report


def _broken_rule(report: Report, source: str, thresholds: object) -> list[Finding]:
    raise KeyError("no such column")


def _n_plus_one(engine: sa.Engine, models: object) -> None:
    with Session(engine) as session:
        for author in session.query(models.Author).all():  # type: ignore[attr-defined]
            _ = author.books


@pytest.fixture
def library(sqlite_engine: sa.Engine) -> tuple[sa.Engine, object]:
    models = demo.declare()
    demo.populate(sqlite_engine, models, authors=12, books_per_author=2)
    return sqlite_engine, models


def test_a_failing_rule_is_a_note_and_the_others_still_report(
    library: tuple[sa.Engine, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analysis, "RULES", [_broken_rule, *analysis.RULES])
    with profile(explain=False, memory=False) as report:
        _n_plus_one(*library)
    assert "n-plus-one" in {f.rule for f in report.findings}
    failed = [n for n in report.notes if "_broken_rule" in n]
    assert failed == ["rule _broken_rule failed: KeyError: 'no such column'"]


def test_built_in_rules_are_named_by_their_id() -> None:
    from sqla_magic.analysis.rules import n_plus_one

    assert analysis.rule_name(n_plus_one.rule) == "n-plus-one"


def test_the_profile_target_is_a_report_complete_after_the_block(
    library: tuple[sa.Engine, object],
) -> None:
    with profile(explain=False, memory=False) as report:
        assert isinstance(report, Report) and report.statements == ()
        _n_plus_one(*library)
    assert len(report.statements) == 13 and report is pipeline.last_report()
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.wall_s = 0.0  # type: ignore[misc]
    copy = dataclasses.replace(report, notes=("copied",))
    assert type(copy) is Report and copy.statements == report.statements
    assert Report.from_json(report.to_json()) == report and report == Report.from_json(report.to_json())
    again = pickle.loads(pickle.dumps(report))
    assert type(again) is Report and again == report
