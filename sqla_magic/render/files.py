"""Writing a report to a file: a standalone HTML page or the lossless JSON.

Parameters are the part of a report most likely to hold secrets (passwords, tokens,
personal data), and exported files travel further than notebooks; `redact=True`
replaces every parameter value with `"?"` before anything is written.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Optional, Union

from sqla_magic.model import Memory, Plan, PlanNode, Report, Rewrite

REDACTED = "?"
MIN_SCRUBBED_LENGTH = 4
"""Shorter parameter values are not searched for in free text: they would match ordinary words."""

_TRUNCATION = re.compile(r"… \(\+\d+ chars\)$")
_PARAMETERS_IN_ERROR = re.compile(r"\[parameters: [^\n]*\]")


def save_report(report: Report, path: Union[str, os.PathLike[str]], redact: bool = False) -> None:
    """Write `report` to `path`: `.html` as a standalone page, `.json` as `Report.to_json`,
    `.sarif` as the findings in SARIF 2.1.0, `.csv` as one row per statement."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".html", ".json", ".sarif", ".csv"):
        raise ValueError(
            f"cannot save a report as {str(target)!r}: use a .html (standalone page), .json, "
            ".sarif (findings) or .csv (statements) file name"
        )
    if redact:
        report = redacted(report)
    if suffix == ".json":
        text = report.to_json(indent=1)
    elif suffix == ".sarif":
        from sqla_magic.render.sarif import render_sarif

        text = render_sarif(report)
    elif suffix == ".csv":
        from sqla_magic.render.statements_csv import render_csv

        text = render_csv(report)
    else:
        from sqla_magic.render.html import render_page

        text = render_page(report)
    # open() puts the path in the OSError it raises, so a failure says which file it was.
    with open(target, "w", encoding="utf-8") as output:
        output.write(text)


def redacted(report: Report) -> Report:
    """A copy of `report` with every parameter value replaced by `"?"`.

    Values also disappear from the places that quote them back: DBAPI error messages
    (`[parameters: ...]`), EXPLAIN output, warnings, notes, finding messages, and the
    cell's source and rewrites (a literal typed in the cell is often the parameter).
    """
    scrub = _Scrubber(_parameter_texts(statement.params for statement in report.statements))
    statements = tuple(
        dataclasses.replace(
            statement,
            params=_redact_params(statement.params),
            error=scrub.optional(statement.error),
        )
        for statement in report.statements
    )
    plans = tuple(_redacted_plan(plan, scrub) for plan in report.plans)
    findings = tuple(
        dataclasses.replace(
            finding,
            title=scrub(finding.title),
            message=scrub(finding.message),
            fix=scrub.optional(finding.fix),
            rewrite=_redacted_rewrite(finding.rewrite, scrub),
        )
        for finding in report.findings
    )
    warnings = tuple(dataclasses.replace(w, message=scrub(w.message)) for w in report.warnings)
    error = report.error
    if error is not None:
        error = dataclasses.replace(error, message=scrub(error.message))
    return dataclasses.replace(
        report,
        statements=statements,
        plans=plans,
        findings=findings,
        warnings=warnings,
        error=error,
        notes=tuple(scrub(note) for note in report.notes),
        source=scrub(report.source),
        memory=_redacted_memory(report.memory, scrub),
    )


def _redacted_rewrite(rewrite: Optional[Rewrite], scrub: _Scrubber) -> Optional[Rewrite]:
    if rewrite is None:
        return None
    return Rewrite(scrub(rewrite.original), scrub(rewrite.rewritten), scrub(rewrite.explanation))


def _redacted_memory(memory: Optional[Memory], scrub: _Scrubber) -> Optional[Memory]:
    if memory is None or not memory.lines:
        return memory
    lines = tuple(dataclasses.replace(line, source=scrub(line.source)) for line in memory.lines)
    return dataclasses.replace(memory, lines=lines)


def _redact_params(value: Any) -> Any:
    """The same shape (names, positions, parameter sets), every value a `"?"`."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {key: _redact_params(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_redact_params(item) for item in value)
    return REDACTED


def _parameter_texts(params: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    pending = list(params)
    while pending:
        value = pending.pop()
        if isinstance(value, Mapping):
            pending.extend(value.values())
        elif isinstance(value, (list, tuple)):
            pending.extend(value)
        elif isinstance(value, str):
            text = _TRUNCATION.sub("", value)
            if len(text) >= MIN_SCRUBBED_LENGTH:
                found.add(text)
    return found


class _Scrubber:
    """Replaces known parameter values inside free text."""

    def __init__(self, secrets: set[str]) -> None:
        ordered = sorted(secrets, key=len, reverse=True)  # longest first, so no value is half-replaced
        self.pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        text = _PARAMETERS_IN_ERROR.sub(f"[parameters: {REDACTED}]", text)
        if self.pattern is None:
            return text
        return self.pattern.sub(REDACTED, text)

    def optional(self, text: Optional[str]) -> Optional[str]:
        return None if text is None else self(text)

    def plain(self, value: Any) -> Any:
        """Free-form JSON values (a plan's raw output) with every string scrubbed."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {key: self.plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return tuple(self.plain(item) for item in value)
        return value


def _redacted_plan(plan: Plan, scrub: _Scrubber) -> Plan:
    return dataclasses.replace(
        plan,
        sql=scrub(plan.sql),
        note=scrub.optional(plan.note),
        raw=scrub.plain(plan.raw),
        root=_redacted_plan_node(plan.root, scrub) if plan.root is not None else None,
        warnings=tuple(dataclasses.replace(w, message=scrub(w.message)) for w in plan.warnings),
    )


def _redacted_plan_node(node: PlanNode, scrub: _Scrubber) -> PlanNode:
    return dataclasses.replace(
        node,
        label=scrub(node.label),
        detail=scrub(node.detail),
        children=tuple(_redacted_plan_node(child, scrub) for child in node.children),
    )
