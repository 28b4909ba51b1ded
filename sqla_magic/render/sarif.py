"""Findings as SARIF 2.1.0, the format code-scanning services and editors read.

One run, one result per finding: the rule id, a level from the severity, the message
with its numbers, and the places in the user's code as physical locations (the finding's
sites where known, else its lines in the profiled file).  A notebook cell has no file on
disk; its results still carry the cell's name and lines.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqla_magic.model import Finding, Report

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"high": "error", "medium": "warning", "low": "note"}
INFORMATION_URI = "https://pypi.org/project/sqla_magic/"


def render_sarif(report: Report) -> str:
    return json.dumps(sarif_log(report), indent=1)


def sarif_log(report: Report) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    for finding in report.findings:
        rules.setdefault(
            finding.rule,
            {
                "id": finding.rule,
                "shortDescription": {"text": finding.title},
                "defaultConfiguration": {"level": LEVELS.get(finding.severity, "warning")},
            },
        )
    index = {rule: i for i, rule in enumerate(rules)}
    driver: dict[str, Any] = {
        "name": "sqla_magic",
        "informationUri": INFORMATION_URI,
        "rules": list(rules.values()),
    }
    version = _version()
    if version:
        driver["version"] = version
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "results": [_result(report, finding, index[finding.rule]) for finding in report.findings],
            }
        ],
    }


def _result(report: Report, finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS.get(finding.severity, "warning"),
        "message": {"text": f"{finding.title}: {finding.message}"},
        "locations": [_location(file, line) for file, line in _places(report, finding)],
    }
    if finding.statements:
        result["properties"] = {"statements": len(finding.statements)}
    return result


def _places(report: Report, finding: Finding) -> Iterator[tuple[str, int]]:
    sites = getattr(finding, "sites", ())
    if sites:
        for site in sites:
            yield site.file, site.line
    elif report.filename:
        for line in finding.lines:
            yield report.filename, line


def _location(file: str, line: int) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(file)},
            "region": {"startLine": max(int(line), 1)},
        }
    }


def _version() -> str:
    try:
        return importlib.metadata.version("sqla_magic")
    except importlib.metadata.PackageNotFoundError:
        return ""


def _uri(file: str) -> str:
    path = Path(file)
    return path.as_uri() if path.is_absolute() else path.as_posix()
