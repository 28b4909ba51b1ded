"""len-all: `len(q.all())` fetches and builds every row only to count them.

Evidence: a SELECT that fetched at least `len_all_min_rows` rows, run from a line of the
user's code (the cell, or a module by the statement's stack) that is a `len(<...>.all())`
call.  Rewrite: a `Query` becomes `q.count()`; a
statement run by a session becomes `session.scalar(select(func.count()).select_from(
stmt.subquery()))`, so the database counts and one number comes back.
"""

from __future__ import annotations

from itertools import compress
from typing import TYPE_CHECKING, Optional

from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.sources import deferred
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite

if TYPE_CHECKING:
    import libcst as cst

    from sqla_magic.analysis.rewrite import Cell

RULE = "len-all"


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    indexed = evidence.index(report)
    selects = indexed.of_verb("SELECT")
    unframed = indexed.unframed
    sited = [i for i in selects if i not in unframed] if unframed else selects
    if indexed.rows(sited) < thresholds.len_all_min_rows:
        return []  # no source read (nor libcst loaded) without a big enough result to count
    rows = indexed.column("rows")
    fetched = list(compress(sited, evidence.picked(rows, sited)))
    findings = []
    for code, cell in sites.parsed_with(report, source, fetched, "len("):
        findings.extend(_in_code(report, code, cell, thresholds))
    return findings


def _in_code(report: Report, code: sites.Code, cell: Cell, thresholds: Thresholds) -> list[Finding]:
    import libcst as cst

    findings = []
    for node in cell.of_type(cst.Call):
        assert isinstance(node, cst.Call)
        if not (isinstance(node.func, cst.Name) and node.func.value == "len"):
            continue  # most calls: not read further
        inner = _counted_all(node)
        if inner is None:
            continue
        first, last = cell.lines(node)
        indexes = code.on_lines(first, last, "SELECT")
        rows = evidence.index(report).rows(indexes)
        if not indexes or rows < thresholds.len_all_min_rows:
            continue
        place = code.site(first)
        findings.append(
            Finding(
                rule=RULE,
                severity="medium" if rows >= 10 * thresholds.len_all_min_rows else "low",
                title="Rows fetched only to be counted",
                message=(
                    f"`len(....all())` on {sites.where(report, place)} fetched {rows} rows "
                    f"({evidence.ms(evidence.seconds(report, indexes))} in the database, plus building "
                    "every row in Python) to count them; a COUNT returns one number."
                ),
                lines=(first,) if code.is_cell else evidence.lines_of(report, indexes),
                sites=sites.sites(report, indexes, also=[place]),
                statements=tuple(indexes),
                rewrite=deferred(_rewrite, cell, node, inner),
            )
        )
    return findings


def _counted_all(node: cst.Call) -> Optional[cst.BaseExpression]:
    """`q` for `len(q.all())`."""
    import libcst as cst

    from sqla_magic.analysis.rewrite import method_call

    if not (isinstance(node.func, cst.Name) and node.func.value == "len" and len(node.args) == 1):
        return None
    called = method_call(node.args[0].value)
    if called is None or called[1] != "all" or called[2].args:
        return None
    return called[0]


def _rewrite(cell: Cell, node: cst.Call, receiver: cst.BaseExpression) -> Optional[Rewrite]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import expr, run_form

    form = run_form(cell, receiver)
    if form is None:
        return None
    if form.kind == "query" and form.query is not None:
        count_call = cst.Call(func=cst.Attribute(value=form.query, attr=cst.Name("count")))
        return cell.rewrite({node: count_call}, explanation="count in the database with `Query.count()`")
    assert form.session is not None and form.statement is not None
    statement = cell.code(form.statement)
    if not isinstance(form.statement, (cst.Name, cst.Attribute, cst.Call)):
        statement = f"({statement})"
    counted = expr(
        f"{cell.code(form.session)}.scalar(select(func.count()).select_from({statement}.subquery()))"
    )
    return cell.rewrite(
        {node: counted},
        imports=[("sqlalchemy", "func"), ("sqlalchemy", "select")],
        explanation="count in the database with `SELECT count(*)`",
    )
