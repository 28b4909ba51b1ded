"""Findings: rules that read a `Report` and the profiled source, and say what to change.

Every rule has the same signature, `rule(report, source, thresholds) -> list[Finding]`,
and lives in its own module under `rules/`.  `RULES` runs on the captured run; `PLAN_RULES`
run once EXPLAIN plans exist.  Both lists are public: users may add or remove rules.
They are built on first use, so importing `analysis` (for `Thresholds`, at `%load_ext`)
loads no rule module.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, Sequence
from typing import Optional

from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report

Rule = Callable[[Report, str, Thresholds], Sequence[Finding]]


def _default_rules() -> list[Rule]:
    from sqla_magic.analysis.rules import (
        cartesian_product,
        column_load,
        duplicate_query,
        dynamic_relationship,
        first_for_exists,
        large_result,
        len_all,
        loop_insert,
        loop_select,
        loop_update,
        mapper_config,
        n_plus_one,
        no_cache_key,
        orm_cascade_delete,
        repeated_flush,
        unused_columns,
        unused_eager_load,
    )

    return [
        n_plus_one.rule,
        len_all.rule,
        unused_columns.rule,
        loop_update.rule,
        loop_insert.rule,
        first_for_exists.rule,
        orm_cascade_delete.rule,
        no_cache_key.rule,
        mapper_config.rule,
        repeated_flush.rule,
        large_result.rule,
        cartesian_product.rule,
        dynamic_relationship.rule,
        duplicate_query.rule,
        unused_eager_load.rule,
        loop_select.rule,
        column_load.rule,
    ]


def _default_plan_rules() -> list[Rule]:
    from sqla_magic.analysis.rules import seq_scan

    return [seq_scan.rule]


RULES: list[Rule]
"""Rules that need only the captured run."""

PLAN_RULES: list[Rule]
"""Rules that read EXPLAIN plans; they run after EXPLAIN."""

_REGISTRIES = {"RULES": _default_rules, "PLAN_RULES": _default_plan_rules}


def __getattr__(name: str) -> list[Rule]:
    """`RULES` / `PLAN_RULES`, built once on first access (and then plain module globals)."""
    if name not in _REGISTRIES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in globals():
        globals()[name] = _REGISTRIES[name]()
    registry: list[Rule] = globals()[name]
    return registry


def profiled_source(report: Report) -> str:
    """The cell's source, or the profiled file's text for `profile()` outside IPython."""
    if report.source:
        return report.source
    if report.filename:
        return "".join(linecache.getlines(report.filename))
    return ""


def analyse(report: Report, thresholds: Optional[Thresholds] = None) -> list[Finding]:
    return _run(__getattr__("RULES"), report, thresholds)


def analyse_plans(report: Report, thresholds: Optional[Thresholds] = None) -> list[Finding]:
    return _run(__getattr__("PLAN_RULES"), report, thresholds)


def run_rules(
    rules: Sequence[Rule], report: Report, thresholds: Optional[Thresholds] = None
) -> tuple[list[Finding], list[str]]:
    """The findings of `rules`, each rule on its own: one that raises becomes a note naming it."""
    source = profiled_source(report)
    limits = thresholds or Thresholds()
    findings: list[Finding] = []
    failures: list[str] = []
    for rule in rules:
        try:
            findings.extend(rule(report, source, limits))
        except Exception as problem:  # a broken rule must not cost the user the other findings
            failures.append(f"rule {rule_name(rule)} failed: {type(problem).__name__}: {problem}")
    return findings, failures


def rule_name(rule: Rule) -> str:
    """The rule's id as findings carry it: its module's name (`n_plus_one` → `n-plus-one`)."""
    module = getattr(rule, "__module__", "") or ""
    if module.startswith("sqla_magic.analysis.rules."):
        return module.rsplit(".", 1)[-1].replace("_", "-")
    return getattr(rule, "__qualname__", None) or repr(rule)


def _run(rules: Sequence[Rule], report: Report, thresholds: Optional[Thresholds]) -> list[Finding]:
    source = profiled_source(report)
    limits = thresholds or Thresholds()
    return [finding for rule in rules for finding in rule(report, source, limits)]
