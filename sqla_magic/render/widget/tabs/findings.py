"""The Findings tab: one card per finding, with its evidence and its rewrite for Apply, Try it and Copy."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqla_magic.model import Finding, Report, Statement, statement_rows
from sqla_magic.render.summary import (
    findings_by_severity,
    format_count,
    format_duration,
    format_lines,
    one_line_sql,
    plural,
)
from sqla_magic.render.view_model import (
    MAX_EVIDENCE_SHAPES,
    clean,
)
from sqla_magic.render.widget.tabs.tab import Tab


def findings(report: Report) -> list[dict[str, Any]]:
    """One card per finding, high severity first; `index` is what the buttons send back."""
    source_lines = report.source.splitlines()
    return [finding_card(report, index, source_lines) for index in findings_by_severity(report)]


def finding_card(report: Report, index: int, source_lines: Sequence[str]) -> dict[str, Any]:
    finding = report.findings[index]
    card: dict[str, Any] = {
        "index": index,
        "number": index + 1,
        "severity": finding.severity,
        "rule": finding.rule,
        "title": finding.title,
        "message": finding.message,
        "where": _where(finding),
        "lines": [
            {"line": line, "source": source_lines[line - 1] if 0 < line <= len(source_lines) else ""}
            for line in finding.lines[:10]
        ],
        "evidence": _evidence(report, finding),
        "fix": finding.fix or "",
        "rewrite": None,
    }
    if finding.rewrite is not None:
        card["rewrite"] = {
            "explanation": finding.rewrite.explanation,
            "diff": diff_lines(finding.rewrite.diff()),
            "original": finding.rewrite.original,
            "code": finding.rewrite.rewritten,
            "path": finding.rewrite.path,
        }
    return card


def exact_code(report: Report, cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cleaned cards with the code for the editor put back exactly as written.

    `clean` shortens long text and spells out invisible characters, which is right for
    reading and wrong for Apply and Copy: they get the rewrite (and the cell it replaces)
    untouched, however long, zero-width joiners and all.
    """
    for card in cards:
        finding = report.findings[card["index"]]
        if card.get("rewrite") and finding.rewrite is not None:
            card["rewrite"]["code"] = finding.rewrite.rewritten
            card["rewrite"]["original"] = finding.rewrite.original
        card["fix_code"] = fix_code(finding.fix or "")
    return cards


def fix_code(fix: str) -> str:
    """What Copy takes from a change outside the cell: its code, not the prose around it.

    Fix texts quote code in backticks; the SQL statement (`CREATE INDEX ...`) is preferred,
    else the last quoted piece, else the whole text.
    """
    quoted: list[str] = re.findall(r"`([^`]+)`", fix)
    for piece in quoted:
        if re.match(r"\s*(CREATE|ALTER|DROP)\b", piece, re.I):
            return piece.strip()
    return quoted[-1].strip() if quoted else fix


def _where(finding: Finding) -> str:
    where = []
    if finding.lines:
        where.append(f"{'line' if len(finding.lines) == 1 else 'lines'} {format_lines(finding.lines)}")
    if finding.statements:
        where.append(plural(len(finding.statements), "statement"))
    return " · ".join(where)


def _evidence(report: Report, finding: Finding) -> dict[str, Any]:
    """The statements behind a finding, summed, and the shapes they share."""
    statements = [report.statements[i] for i in finding.statements if 0 <= i < len(report.statements)]
    shapes: dict[str, list[Statement]] = {}
    for statement in statements:
        shapes.setdefault(statement.fingerprint, []).append(statement)
    ordered = sorted(shapes.values(), key=lambda group: -sum(s.duration_s for s in group))
    fingerprints = set(shapes)
    wanted = set(finding.statements)
    warnings = [
        f"{warning.kind}: {warning.message}"
        for plan in report.plans
        if plan.statement in wanted or plan.fingerprint in fingerprints
        for warning in plan.warnings
    ]
    seconds = format_duration(sum(s.duration_s for s in statements))
    rows = plural(sum(statement_rows(s) for s in statements), "row")
    return {
        "summary": (
            f"{plural(len(statements), 'statement')}, {seconds} in the database, {rows}" if statements else ""
        ),
        "shapes": [
            {
                "count": format_count(len(group)),
                "total": format_duration(sum(s.duration_s for s in group)),
                "origin": ", ".join(sorted({s.origin for s in group})),
                "sql": one_line_sql(group[0].sql, 160),
            }
            for group in ordered[:MAX_EVIDENCE_SHAPES]
        ],
        "more_shapes": max(len(ordered) - MAX_EVIDENCE_SHAPES, 0),
        "plan_warnings": warnings[:10],
    }


def diff_lines(diff: str) -> list[list[str]]:
    """`[kind, text]` per line of a unified diff: `add`, `del`, `hunk`, `meta` or `` (context)."""
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            kind = "meta"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = ""
        lines.append([kind, line])
    return lines


TAB = Tab(
    name="findings",
    title="Findings",
    count=lambda report: format_count(len(report.findings)),
    requests={"findings": lambda view, args: exact_code(view.report, clean(findings(view.report)))},
)
