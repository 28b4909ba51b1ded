"""Every scenario cell through a real IPython shell: the right rules fire, clean cells stay clean."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from IPython.core.interactiveshell import InteractiveShell

from tests.scenarios.cases import CASES
from tests.scenarios.harness import Case, make_shell, run_case, score

RULE_IDS = (
    "n-plus-one",
    "len-all",
    "unused-columns",
    "loop-update",
    "loop-insert",
    "first-for-exists",
    "orm-cascade-delete",
    "no-cache-key",
    "mapper-config",
    "repeated-flush",
    "large-result",
    "seq-scan",
    "cartesian-product",
    "dynamic-relationship",
    "duplicate-query",
    "loop-select",
    "column-load",
)

RESULTS: dict[str, set[str]] = {}


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    ip = make_shell()
    try:
        yield ip
    finally:
        ip.run_cell("flask_context.pop()", store_history=False)
        ip.run_cell("%unload_ext sqla_magic", store_history=False)


def fired_rules(shell: InteractiveShell, scenario: Case) -> set[str]:
    if "shop" in scenario.tags and sa.__version__.startswith("1."):
        pytest.skip("the shop app is written in SQLAlchemy 2.0's typed style")
    report = run_case(shell, scenario)
    if "seq-scan" in scenario.expected and not report.plans:
        pytest.skip(f"EXPLAIN produced no plans: {report.notes}")
    return {finding.rule for finding in report.findings}


@pytest.mark.parametrize("scenario", CASES, ids=[c.id for c in CASES])
def test_scenario(shell: InteractiveShell, scenario: Case) -> None:
    fired = fired_rules(shell, scenario)
    RESULTS[scenario.id] = fired
    assert fired == set(scenario.expected)


def test_every_rule_has_two_bad_cells_and_clean_cells() -> None:
    for rule in RULE_IDS:
        assert sum(rule in c.expected for c in CASES) >= 2, rule
    assert sum(not c.expected for c in CASES) >= len(RULE_IDS)


def test_precision_and_recall(shell: InteractiveShell) -> None:
    results = []
    for scenario in CASES:
        if scenario.id not in RESULTS:
            try:
                RESULTS[scenario.id] = fired_rules(shell, scenario)
            except pytest.skip.Exception:
                continue
        results.append((scenario, RESULTS[scenario.id]))
    scores = score(results, RULE_IDS)
    print(
        f"\nscenario corpus: {len(results)} cells, "
        f"precision {scores['precision']:.2f}, recall {scores['recall']:.2f}"
    )
    assert scores["precision"] >= 0.95 and scores["recall"] >= 0.95, scores
