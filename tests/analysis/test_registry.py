"""The rule registry is data: one module name a line, resolved into rule functions on first use."""

from __future__ import annotations

from pathlib import Path

from sqla_magic import analysis

RULES_DIR = Path(analysis.__file__).parent / "rules"


def test_every_rule_module_is_registered_once() -> None:
    modules = sorted(path.stem for path in RULES_DIR.glob("*.py") if path.stem != "__init__")
    registered = [*analysis.RULE_MODULES, *analysis.PLAN_RULE_MODULES]
    assert sorted(registered) == modules


def test_the_lists_are_each_named_modules_rule_in_order() -> None:
    assert [rule.__module__ for rule in analysis.RULES] == [
        f"sqla_magic.analysis.rules.{module}" for module in analysis.RULE_MODULES
    ]
    assert [rule.__module__ for rule in analysis.PLAN_RULES] == [
        f"sqla_magic.analysis.rules.{module}" for module in analysis.PLAN_RULE_MODULES
    ]
    assert all(
        analysis.rule_name(rule) == module.replace("_", "-")
        for rule, module in zip(analysis.RULES, analysis.RULE_MODULES, strict=True)
    )
