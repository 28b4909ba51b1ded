from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from sqla_magic.model import CellError, Report
from sqla_magic.render.files import redacted, save_report
from sqla_magic.render.html import render_page


def test_json_round_trip_of_the_hand_made_report(report: Report) -> None:
    assert Report.from_json(report.to_json()) == report
    assert Report.from_json(report.to_json(indent=1)) == report


def test_save_json_reads_back_equal(report: Report, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    save_report(report, target)
    text = target.read_text(encoding="utf-8")
    assert text.startswith('{\n "wall_s": 0.52')
    assert Report.from_json(text) == report


def test_save_html_writes_the_standalone_page(report: Report, tmp_path: Path) -> None:
    target = tmp_path / "report.HTML"
    report.save(str(target))
    assert target.read_text(encoding="utf-8") == render_page(report)


def test_other_suffixes_are_refused(report: Report, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"report\.txt.*use a \.html .*, \.json"):
        save_report(report, tmp_path / "report.txt")
    with pytest.raises(ValueError):
        save_report(report, tmp_path / "report")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_path_raises_with_the_path(report: Report, tmp_path: Path) -> None:
    target = tmp_path / "no-such-directory" / "report.json"
    with pytest.raises(OSError, match="no-such-directory"):
        save_report(report, target)


def test_redact_removes_parameter_values_from_both_formats(
    report: Report, tmp_path: Path, secret: str
) -> None:
    error = f"(sqlite3.IntegrityError) UNIQUE failed\n[SQL: INSERT ...]\n[parameters: ('{secret}', 3)]"
    leaky = dataclasses.replace(report, error=CellError("IntegrityError", error, 2))
    assert secret in render_page(leaky) and secret in leaky.to_json()

    save_report(leaky, tmp_path / "report.html", redact=True)
    save_report(leaky, tmp_path / "report.json", redact=True)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    saved = (tmp_path / "report.json").read_text(encoding="utf-8")
    assert secret not in page
    assert secret not in saved

    data = json.loads(saved)
    assert [s["params"] for s in data["statements"][:3]] == [["?"], ["?"], ["?"]]
    assert data["error"]["message"].endswith("[parameters: ?]")
    # Everything else is kept.
    restored = Report.from_json(saved)
    assert len(restored.statements) == 301
    assert [s.sql for s in restored.statements] == [s.sql for s in leaky.statements]
    assert restored.findings == leaky.findings and restored.call_tree == leaky.call_tree


def test_redacted_keeps_the_shape_of_parameters(report: Report, secret: str) -> None:
    statements = list(report.statements)
    statements[0] = dataclasses.replace(
        statements[0],
        params=({"name": secret, "ids": (1, 2)}, {"name": "x", "ids": (3,)}, "... 8 more parameter sets"),
        executemany=True,
        param_sets=10,
        error=f"IntegrityError: duplicate key value {secret!r}",
    )
    plan = dataclasses.replace(report.plans[0], raw=(f"SCAN users WHERE api_key = '{secret}'",))
    clean = redacted(dataclasses.replace(report, statements=tuple(statements), plans=(plan,)))
    assert clean.statements[0].params == ({"name": "?", "ids": ("?", "?")}, {"name": "?", "ids": ("?",)}, "?")
    assert clean.statements[0].error == "IntegrityError: duplicate key value '?'"
    assert clean.plans[0].raw == ("SCAN users WHERE api_key = '?'",)
    assert clean.statements[1].params == ("?",)
    assert redacted(Report(wall_s=1.0, cpu_s=1.0)) == Report(wall_s=1.0, cpu_s=1.0)
