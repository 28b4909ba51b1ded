"""pytest plugin: statement budgets on tests, and each profiled test's findings.

Loaded with `-p sqla_magic`, or from the `pytest11` entry point once the package is
installed.  Loaded, it changes nothing about a test that does not ask: a test is profiled
when it uses the `sqlprofile` fixture or marker, or when the run is given `--sqlprofile`.
Profiling here is a budget run (statements and findings; no call tree, memory or
EXPLAIN), and covers the test body only, not its fixtures' setup.

    @pytest.mark.sqlprofile(max_statements=5, fail_on=["n-plus-one"])
    def test_books(session): ...

    def test_counts(session, sqlprofile):
        ...  # `sqlprofile` is the test's Report, filled when the body has run
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

from sqla_magic.budgets import BudgetExceeded, Limits, budget, check, recording
from sqla_magic.model import Report

FIXTURE = "sqlprofile"
MARKER = "sqlprofile"


@dataclass
class ProfiledTest:
    """One test's profile: its limits, the run while it is going, the report after."""

    limits: Limits
    run: Any = None
    report: Optional[Report] = None
    failed: bool = False


@dataclass
class Session:
    """What the terminal summary lists: every profiled test, in the order they ran."""

    tests: dict[str, ProfiledTest] = field(default_factory=dict)


PROFILE = pytest.StashKey[ProfiledTest]()
SESSION = pytest.StashKey[Session]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sqlprofile", "SQLAlchemy statements (sqla_magic)")
    group.addoption(
        "--sqlprofile",
        action="store_true",
        default=False,
        help="profile every test's SQLAlchemy statements and list the findings per test",
    )
    group.addoption(
        "--sqlprofile-report",
        metavar="DIR",
        default=None,
        help="write each failing profiled test's report into DIR as a standalone HTML page",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(max_statements=None, max_per_shape=None, fail_on=()): profile the test's "
        "statements and fail it when it goes over this budget",
    )
    config.stash[SESSION] = Session()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Set the `sqlprofile` fixture up last, so the profile starts after every other
    fixture and holds the test body's statements only."""
    for item in items:
        names = getattr(item, "fixturenames", None)
        if isinstance(names, list) and FIXTURE in names:
            names.remove(FIXTURE)
            names.append(FIXTURE)


def _limits(item: pytest.Item) -> Limits:
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return Limits()
    if marker.args:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER} takes keyword arguments only")
    return budget(**marker.kwargs).limits


def _wanted(item: pytest.Item) -> bool:
    return bool(
        item.config.getoption("sqlprofile")
        or item.get_closest_marker(MARKER) is not None
        or FIXTURE in getattr(item, "fixturenames", ())
    )


def _start(item: pytest.Item) -> ProfiledTest:
    profiled = item.stash.get(PROFILE, None)
    if profiled is None:
        profiled = item.stash[PROFILE] = ProfiledTest(_limits(item))
        file = getattr(item, "path", None)
        profiled.run = recording(str(file) if file else "", profiled.limits.fail_on)
        profiled.run.__enter__()
    return profiled


@pytest.fixture
def sqlprofile(request: pytest.FixtureRequest) -> Report:
    """The test's `Report`: empty while the test body runs, filled when it ends (read it
    in a later fixture's teardown, or use `sqla_magic.budget` inside the body)."""
    report: Report = _start(request.node).run.report
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    if not _wanted(item):
        return (yield)
    profiled = _start(item)
    try:
        result = yield
    except BaseException as problem:
        _finish(item, profiled, problem)
        raise
    _finish(item, profiled, None)
    assert profiled.report is not None
    try:
        check(profiled.report, profiled.limits)
    except BudgetExceeded as exceeded:
        profiled.failed = True
        _write_report(item, profiled)
        # The summary says all there is; the plugin's own frames would only hide it.
        pytest.fail(str(exceeded), pytrace=False)
    return result


def _finish(item: pytest.Item, profiled: ProfiledTest, error: Optional[BaseException]) -> None:
    run = profiled.run
    run.__exit__(type(error) if error else None, error, error.__traceback__ if error else None)
    profiled.report = run.report
    item.config.stash[SESSION].tests[item.nodeid] = profiled
    if error is not None and not isinstance(error, pytest.skip.Exception):
        profiled.failed = True
        _write_report(item, profiled)


def _write_report(item: pytest.Item, profiled: ProfiledTest) -> None:
    directory = item.config.getoption("sqlprofile_report")
    if not directory or profiled.report is None:
        return
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid).strip("_")[:150] or "test"
    profiled.report.save(folder / f"{name}.html")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    tests = config.stash[SESSION].tests
    if not tests:
        return
    terminalreporter.section("sqlprofile")
    for nodeid, profiled in tests.items():
        report = profiled.report
        if report is None:
            continue
        statements = len(report.statements) + report.dropped_statements
        shapes = len({s.fingerprint for s in report.statements})
        over = " (over budget)" if profiled.failed and profiled.limits.violations(report) else ""
        terminalreporter.write_line(f"{nodeid}: {statements} statements, {shapes} shapes{over}")
        for finding in report.findings:
            terminalreporter.write_line(f"    [{finding.severity}] {finding.rule}: {finding.title}")
    directory = config.getoption("sqlprofile_report")
    if directory and any(p.failed for p in tests.values()):
        terminalreporter.write_line(f"reports of failing tests: {directory}")
