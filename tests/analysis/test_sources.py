"""The source is parsed once per run, and a finding's rewrite is built when it is read."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import libcst
import pytest

from sqla_magic.analysis import analyse, rewrite
from sqla_magic.model import Report, Rewrite, pending_rewrite

ROOT = Path(__file__).resolve().parents[2]

# An N+1 and a len(all()) in one source: two rules read it, each with a rewrite.
WORKLOAD = textwrap.dedent(
    """
    import sys
    import sqlalchemy as sa
    from sqlalchemy.orm import Session
    from sqla_magic import demo, profile

    engine = sa.create_engine("sqlite://")
    models = demo.declare()
    demo.populate(engine, models, authors=30, books_per_author=3)
    with Session(engine) as session, profile(explain=False) as report:
        authors = session.query(models.Author).all()
        pages = [len(author.books) for author in authors]
        count = len(session.query(models.Book).all())
    """
)


def _report(tmp_path: Path) -> Report:
    """The workload run from a file of its own, as `profile()` in a script sees it."""
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    namespace: dict[str, object] = {"__name__": "workload"}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    report = namespace["report"]
    assert isinstance(report, Report)
    return report


def test_rewrites_are_built_when_read_not_when_the_profile_stops(tmp_path: Path) -> None:
    report = _report(tmp_path)
    found = {f.rule: f for f in report.findings}
    assert {"n-plus-one", "len-all"} <= found.keys()
    assert all(pending_rewrite(found[rule]) is not None for rule in ("n-plus-one", "len-all"))

    built = found["n-plus-one"].rewrite
    assert isinstance(built, Rewrite) and "selectinload(models.Author.books)" in built.rewritten
    assert pending_rewrite(found["n-plus-one"]) is None
    assert found["n-plus-one"].rewrite is built  # built once
    assert pending_rewrite(found["len-all"]) is not None  # the other one still waits


def test_a_report_with_pending_rewrites_round_trips_through_json(tmp_path: Path) -> None:
    report = _report(tmp_path)
    again = Report.from_json(report.to_json())
    assert again == report
    assert [f.rewrite for f in again.findings] == [f.rewrite for f in report.findings]
    assert any(isinstance(f.rewrite, Rewrite) for f in again.findings)


def test_every_rule_of_a_run_reads_one_parse_of_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _report(tmp_path)
    rewrite.parse_cell.cache_clear()
    parses: list[str] = []
    parse_module = libcst.parse_module

    def counted(source: str) -> libcst.Module:
        parses.append(source)
        return parse_module(source)

    monkeypatch.setattr(rewrite.cst, "parse_module", counted)
    findings = analyse(report)
    assert {"n-plus-one", "len-all"} <= {f.rule for f in findings}
    for finding in findings:
        assert finding.rewrite is None or finding.rewrite.rewritten
    assert len(parses) == 1


def test_libcst_codemod_is_imported_only_when_a_rewrite_is_built(tmp_path: Path) -> None:
    script = tmp_path / "workload.py"
    script.write_text(
        WORKLOAD
        + textwrap.dedent(
            """
            print("libcst.codemod" in sys.modules)
            rewrites = [f.rewrite for f in report.findings]
            print("libcst.codemod" in sys.modules)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["False", "True"]
