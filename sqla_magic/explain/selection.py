"""Which statements of a report to explain.

The slowest statement groups (by fingerprint, ranked by total time), one execution each
(the slowest), then the statements findings point at (one per fingerprint not yet
chosen), then any explicitly requested.  Failed executions are never representatives;
statements that cannot have a plan (DDL, transaction control, SET ...) do not take a place
among the slowest.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqla_magic.explain import sql as sqltext
from sqla_magic.model import Report, Statement

_EXPLAINABLE = frozenset({sqltext.READ, sqltext.LOCKING_READ, sqltext.WRITE})


def statements_to_explain(report: Report, *, top: int = 5, extra: Iterable[int] = ()) -> list[int]:
    """Indexes into `report.statements`, in the order their plans should be shown."""
    statements = report.statements
    chosen: list[int] = []
    fingerprints: set[str] = set()

    groups: dict[str, list[int]] = {}
    for index, statement in enumerate(statements):
        if statement.error is None and sqltext.statement_kind(statement.sql) in _EXPLAINABLE:
            groups.setdefault(statement.fingerprint, []).append(index)
    ranked = sorted(groups.values(), key=lambda members: -sum(statements[i].duration_s for i in members))
    for members in ranked[: max(top, 0)]:
        chosen.append(_slowest(statements, members))
        fingerprints.add(statements[members[0]].fingerprint)

    pointed: dict[str, list[int]] = {}
    for finding in report.findings:
        for index in finding.statements:
            if 0 <= index < len(statements) and statements[index].error is None:
                fingerprint = statements[index].fingerprint
                if fingerprint not in fingerprints:
                    pointed.setdefault(fingerprint, []).append(index)
    for fingerprint, members in pointed.items():
        chosen.append(_slowest(statements, members))
        fingerprints.add(fingerprint)

    for index in extra:
        if 0 <= index < len(statements) and index not in chosen:
            chosen.append(index)
    return chosen


def _slowest(statements: tuple[Statement, ...], members: list[int]) -> int:
    return max(members, key=lambda i: statements[i].duration_s)
