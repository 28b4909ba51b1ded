"""Findings: rules that read a `Report` and the profiled source, and say what to change.

Every rule has the same signature, `rule(report, source, thresholds) -> list[Finding]`,
and lives in its own module under `rules/`.  `RULES` runs on the captured run; `PLAN_RULES`
run once EXPLAIN plans exist.  Both lists are public: users may add or remove rules.
Their defaults are data, one module name a line (`RULE_MODULES`, `PLAN_RULE_MODULES`);
the lists are built from them on first use, so importing `analysis` (for `Thresholds`, at
`%load_ext`) loads no rule module.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Optional, cast

from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report

Rule = Callable[[Report, str, Thresholds], Sequence[Finding]]


RULE_MODULES: tuple[str, ...] = (
    "n_plus_one",
    "len_all",
    "unused_columns",
    "loop_update",
    "loop_insert",
    "first_for_exists",
    "orm_cascade_delete",
    "no_cache_key",
    "mapper_config",
    "repeated_flush",
    "large_result",
    "cartesian_product",
    "dynamic_relationship",
    "duplicate_query",
    "unused_eager_load",
    "loop_select",
    "column_load",
)
"""The default `RULES`, one line per rule: a module of `analysis/rules/`, in the order findings appear."""

PLAN_RULE_MODULES: tuple[str, ...] = ("seq_scan",)
"""The default `PLAN_RULES`: modules of `analysis/rules/` whose rule reads EXPLAIN plans."""

RULES: list[Rule]
"""Rules that need only the captured run."""

PLAN_RULES: list[Rule]
"""Rules that read EXPLAIN plans; they run after EXPLAIN."""

_REGISTRIES = {"RULES": RULE_MODULES, "PLAN_RULES": PLAN_RULE_MODULES}


def _load(modules: Sequence[str]) -> list[Rule]:
    """Each module's `rule`, imported now (not when `analysis` is imported)."""
    return [cast(Rule, import_module(f"{__name__}.rules.{module}").rule) for module in modules]


def __getattr__(name: str) -> list[Rule]:
    """`RULES` / `PLAN_RULES`, built once on first access (and then plain module globals)."""
    if name not in _REGISTRIES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in globals():
        globals()[name] = _load(_REGISTRIES[name])
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
    from sqla_magic.analysis.evidence import forget

    source = profiled_source(report)
    limits = thresholds or Thresholds()
    findings: list[Finding] = []
    failures: list[str] = []
    try:
        for rule in rules:
            try:
                findings.extend(_costed(report, rule(report, source, limits)))
            except Exception as problem:  # a broken rule must not cost the user the other findings
                failures.append(f"rule {rule_name(rule)} failed: {type(problem).__name__}: {problem}")
    finally:
        forget()
    return findings, failures


def rule_name(rule: Rule) -> str:
    """The rule's id as findings carry it: its module's name (`n_plus_one` → `n-plus-one`)."""
    module = getattr(rule, "__module__", "") or ""
    if module.startswith("sqla_magic.analysis.rules."):
        return module.rsplit(".", 1)[-1].replace("_", "-")
    return getattr(rule, "__qualname__", None) or repr(rule)


def _run(rules: Sequence[Rule], report: Report, thresholds: Optional[Thresholds]) -> list[Finding]:
    from sqla_magic.analysis.evidence import forget

    source = profiled_source(report)
    limits = thresholds or Thresholds()
    try:
        return [finding for rule in rules for finding in _costed(report, rule(report, source, limits))]
    finally:
        forget()


def _costed(report: Report, findings: Sequence[Finding]) -> list[Finding]:
    from sqla_magic.analysis.evidence import with_cost

    return [with_cost(report, finding) for finding in findings]
