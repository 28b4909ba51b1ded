"""Findings: rules that read a `Report` (and the cell's source) and say what to change."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqla_magic.model import Finding, Report

Rule = Callable[[Report], Sequence[Finding]]

RULES: list[Rule] = []
"""Rules that need only the captured run; users may add or remove rules here."""

PLAN_RULES: list[Rule] = []
"""Rules that read EXPLAIN plans; they run after EXPLAIN."""


def analyse(report: Report) -> list[Finding]:
    return [finding for rule in RULES for finding in rule(report)]


def analyse_plans(report: Report) -> list[Finding]:
    return [finding for rule in PLAN_RULES for finding in rule(report)]
