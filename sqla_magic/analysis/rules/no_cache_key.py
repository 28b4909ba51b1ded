"""no-cache-key: statements compiled on every execution because they have no cache key.

Evidence: SQLAlchemy's own warnings captured while profiling (`cache_ok` on a
TypeDecorator, `inherit_cache` on a custom construct, `supports_statement_cache` on a
dialect), and every statement whose cache state is `no key` (the warnings come only once
per process, the cache state every time), grouped by fingerprint.  At least
`no_cache_key_min_statements` statements, or one warning, fire.  The fix lives on the
class named by the warning.

Also: statements compiled every time because the cache is switched off (cache state
`no cache`: a `compiled_cache=None` execution option, or an engine made with
`query_cache_size=0`), per engine, when there are at least `cache_off_min_statements` of
them and compiling takes at least `cache_off_min_compile_share` of the profiled time spent
outside the database (raw driver SQL, also `no cache`, compiles nothing and never gets
there).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.sources import deferred
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import CapturedWarning, Finding, Report, Rewrite, Site

RULE = "no-cache-key"
_ATTRIBUTES = ("cache_ok", "inherit_cache", "supports_statement_cache")


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    indexed = evidence.index(report)
    no_key = indexed.groups("cache").get("no key", []) if "no key" in indexed.column("cache") else []
    compile_s = report.layers.get("compile", 0.0)
    findings = []
    covered: set[int] = set()
    seen: set[str] = set()
    for warning in report.warnings:
        attribute = next((a for a in _ATTRIBUTES if a in warning.message), None)
        if attribute is None or warning.message in seen:
            continue
        seen.add(warning.message)
        subject = _subject(warning.message)
        lines = indexed.column("line")
        indexes = [i for i in no_key if warning.line is None or lines[i] == warning.line] or no_key
        covered.update(indexes)
        findings.append(
            Finding(
                rule=RULE,
                severity="medium",
                title=f"{subject or 'A construct'} disables the statement cache",
                message=(
                    f"SQLAlchemy warned: {warning.message.strip()} "
                    f"{evidence.plural(len(indexes), 'statement')} from "
                    f"{sites.where_all(report, _places(report, indexes))} ran without a cache key, so each "
                    f"was compiled again ({evidence.ms(compile_s)} compiling in all)."
                ),
                lines=(warning.line,) if warning.line is not None else evidence.lines_of(report, indexes),
                sites=sites.sites(report, indexes),
                statements=tuple(indexes),
                fix=_fix(attribute, subject),
                rewrite=deferred(_declare_cacheable, report, source, warning, attribute, subject, indexes)
                if attribute != "supports_statement_cache" and subject
                else None,
            )
        )
    uncovered = [i for i in no_key if i not in covered] if covered else no_key
    groups = evidence.grouped(evidence.picked(indexed.column("fingerprint"), uncovered), uncovered)
    for indexes in groups.values():
        if len(indexes) < thresholds.no_cache_key_min_statements:
            continue
        sql = report.statements[indexes[0]].sql.split("\n", 1)[0][:80]
        findings.append(
            Finding(
                rule=RULE,
                severity="medium" if len(indexes) > 1 else "low",
                title="Statement without a cache key",
                message=(
                    f"{evidence.plural(len(indexes), 'execution')} of `{sql}` from "
                    f"{sites.where_all(report, _places(report, indexes))} had no cache key (SQLAlchemy "
                    "logs them as `[no key]`): each was compiled from scratch "
                    f"({evidence.ms(compile_s)} compiling in all). A custom type or construct in it does not "
                    "declare itself cacheable."
                ),
                lines=evidence.lines_of(report, indexes),
                sites=sites.sites(report, indexes),
                statements=tuple(indexes),
                fix=_fix(None, None),
            )
        )
    findings.extend(_cache_switched_off(report, thresholds))
    return findings


def _cache_switched_off(report: Report, thresholds: Thresholds) -> list[Finding]:
    compile_s = report.layers.get("compile", 0.0)
    outside = report.wall_s - report.layers.get("database", 0.0) - report.layers.get("fetch", 0.0)
    if outside <= 0 or compile_s / outside < thresholds.cache_off_min_compile_share:
        return []
    indexed = evidence.index(report)
    uncached = indexed.groups("cache").get("no cache", [])
    off = evidence.grouped(evidence.picked(indexed.column("engine"), uncached), uncached)
    findings = []
    for engine, indexes in off.items():
        if len(indexes) < thresholds.cache_off_min_statements:
            continue
        shapes = len(set(evidence.picked(indexed.column("fingerprint"), indexes)))
        where = sites.where_all(report, _places(report, indexes))
        findings.append(
            Finding(
                rule=RULE,
                severity="high" if compile_s / outside >= 0.5 else "medium",
                title="Statements compiled every time: the compiled cache is switched off",
                message=(
                    f"{evidence.plural(len(indexes), 'execution')} of "
                    f"{evidence.plural(shapes, 'statement shape')} "
                    f"on `{engine}` ran with the compiled cache switched off (SQLAlchemy logs them as "
                    f"`[caching disabled]`), from {where}: compiling took {evidence.ms(compile_s)}, "
                    f"{100 * compile_s / report.wall_s:.0f}% of the profiled time and "
                    f"{100 * compile_s / outside:.0f}% of the time outside the database."
                ),
                lines=evidence.lines_of(report, indexes),
                statements=tuple(indexes),
                sites=sites.sites(report, indexes),
                fix=(
                    "Let SQLAlchemy cache compiled statements: drop the `compiled_cache=None` execution "
                    "option, or create the engine without `query_cache_size=0` (the default keeps 500)."
                ),
                seconds=compile_s,
                share=compile_s / report.wall_s,
            )
        )
    return findings


def _subject(message: str) -> str:
    match = re.match(r"\s*(?:TypeDecorator|Class|Dialect|UserDefinedType)?\s*([\w.:]+(?:\(\))?)", message)
    return match.group(1) if match else ""


def _fix(attribute: str | None, subject: str | None) -> str:
    where = f"on `{subject}`" if subject else "on the custom type or construct used in the statement"
    if attribute == "cache_ok":
        return f"Set `cache_ok = True` {where} (when its constructor arguments are hashable and fixed)."
    if attribute == "inherit_cache":
        return f"Set `inherit_cache = True` {where} (when it adds no state of its own to the cache key)."
    if attribute == "supports_statement_cache":
        return f"Set `supports_statement_cache = True` {where}."
    return (
        "Set `cache_ok = True` on custom `TypeDecorator`s and `inherit_cache = True` on custom "
        "`ClauseElement`/`FunctionElement` subclasses used in this statement."
    )


def _places(report: Report, indexes: list[int]) -> list[Site]:
    return sites.distinct_frames(report, indexes)


def _declare_cacheable(
    report: Report,
    source: str,
    warning: CapturedWarning,
    attribute: str,
    subject: str,
    indexes: Sequence[int],
) -> Optional[Rewrite]:
    """`attribute = True` in the body of the class the warning names, where the code that
    ran the statements (or raised the warning) defines it.  A class with an `__init__` of
    its own may hold state its superclass's cache key does not cover: no rewrite then."""
    import libcst as cst

    name = subject.removesuffix("()").rsplit(".", 1)[-1]
    files = dict.fromkeys(
        [
            *([warning.filename] if warning.filename else []),
            *(place.file for i in indexes for place in sites.stack(report, report.statements[i])),
        ]
    )
    for file in files:
        code = sites.code_at(report, source, Site(file, 1, sites.CELL_FUNCTION)).parsed
        if code is None:
            continue
        classes = [
            node
            for node in code.of_type(cst.ClassDef)
            if isinstance(node, cst.ClassDef) and node.name.value == name
        ]
        if len(classes) != 1:
            continue
        definition = classes[0]
        body = definition.body
        if not isinstance(body, cst.IndentedBlock):
            return None
        for statement in body.body:
            if isinstance(statement, cst.FunctionDef) and statement.name.value == "__init__":
                return None
        first = body.body[0] if body.body else None
        docstring = (
            isinstance(first, cst.SimpleStatementLine)
            and len(first.body) == 1
            and isinstance(first.body[0], cst.Expr)
            and isinstance(first.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
        )
        declared = cst.parse_statement(f"{attribute} = True\n")
        members = list(body.body)
        at = 1 if docstring else 0
        following = members[at] if at < len(members) else None
        if docstring and isinstance(following, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            declared = declared.with_changes(leading_lines=following.leading_lines)  # as spaced as the next
        members.insert(at, declared)
        return code.rewrite(
            {definition: definition.with_changes(body=body.with_changes(body=members))},
            explanation=f"declare `{name}` cacheable: `{attribute} = True`",
        )
    return None
