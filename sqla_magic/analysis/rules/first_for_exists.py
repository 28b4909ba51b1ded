"""first-for-exists: `.first()` fetched a row (and built an object) only to test for one.

Evidence: `<...>.first()` used only as a truth value (`is None`, `is not None`, `if`,
`while`, `not`, `bool()`), with a SELECT run from its line (in the cell, or in a module
by the statement's stack).  Rewrite: a `Query` becomes
`session.query(q.exists()).scalar()`; a statement run by a session becomes
`session.scalar(select(stmt.exists()))`, so the database answers EXISTS and stops at the
first match.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.sources import deferred
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite

if TYPE_CHECKING:
    import libcst as cst

    from sqla_magic.analysis.rewrite import Cell

RULE = "first-for-exists"


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    indexed = evidence.index(report)
    selects = indexed.of_verb("SELECT")
    unframed = indexed.unframed
    if unframed:
        selects = [i for i in selects if i not in unframed]
    if len(selects) < thresholds.first_for_exists_min_statements:
        return []  # no source read (nor libcst loaded) without a `.first()` that ran a statement
    findings = []
    for code, cell in sites.parsed_with(report, source, selects, ".first()"):
        findings.extend(_in_code(report, code, cell, thresholds))
    return findings


def _in_code(report: Report, code: sites.Code, cell: Cell, thresholds: Thresholds) -> list[Finding]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import method_call

    findings = []
    for node in cell.of_type(cst.Call):
        called = method_call(node)
        if called is None or not isinstance(node, cst.Call) or called[1] != "first" or called[2].args:
            continue
        test = _truth_test(cell, node)
        if test is None:
            continue
        first, last = cell.lines(node)
        indexes = code.on_lines(first, last, "SELECT")
        if len(indexes) < thresholds.first_for_exists_min_statements:
            continue
        whole, negated = test
        place = code.site(first)
        findings.append(
            Finding(
                rule=RULE,
                severity="low",
                title="`.first()` used as an existence test",
                message=(
                    f"{sites.where(report, place)} ran "
                    f"{evidence.plural(len(indexes), 'SELECT')} "
                    f"({evidence.ms(evidence.seconds(report, indexes))}) that fetch a whole row to test "
                    "whether one exists; EXISTS lets the database stop at the first match and returns a "
                    "boolean."
                ),
                lines=(first,) if code.is_cell else evidence.lines_of(report, indexes),
                sites=sites.sites(report, indexes, also=[place]),
                statements=tuple(indexes),
                rewrite=deferred(_rewrite, cell, whole, called[0], negated),
            )
        )
    return findings


def _truth_test(cell: Cell, node: cst.Call) -> Optional[tuple[cst.BaseExpression, bool]]:
    """The expression to replace and whether it tests for absence, if `node` is a truth test."""
    import libcst as cst

    parent = cell.parent(node)
    if isinstance(parent, cst.Comparison) and parent.left is node and len(parent.comparisons) == 1:
        target = parent.comparisons[0]
        if isinstance(target.comparator, cst.Name) and target.comparator.value == "None":
            if isinstance(target.operator, cst.IsNot):
                return parent, False
            if isinstance(target.operator, cst.Is):
                return parent, True
        return None
    if isinstance(parent, (cst.If, cst.While)) and parent.test is node:
        return node, False
    if isinstance(parent, cst.UnaryOperation) and isinstance(parent.operator, cst.Not):
        return parent, True
    if isinstance(parent, cst.Arg):
        call = cell.parent(parent)
        if isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and call.func.value == "bool":
            return call, False
    return None


def _rewrite(
    cell: Cell, whole: cst.BaseExpression, receiver: cst.BaseExpression, negated: bool
) -> Optional[Rewrite]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import expr, run_form

    form = run_form(cell, receiver)
    if form is None:
        return None
    imports: list[tuple[str, str]] = []
    if form.kind == "query" and form.query is not None:
        session = _query_session(cell, form.query)
        if session is None:
            return None
        query = cell.code(form.query)
        text = f"{session}.query({query}.exists()).scalar()"
    else:
        assert form.session is not None and form.statement is not None
        text = f"{cell.code(form.session)}.scalar(select({cell.code(form.statement)}.exists()))"
        imports.append(("sqlalchemy", "select"))
    if negated:
        text = f"not {text}"
    if isinstance(cell.parent(whole), (cst.BinaryOperation, cst.BooleanOperation, cst.Attribute)):
        text = f"({text})"
    return cell.rewrite({whole: expr(text)}, imports=imports, explanation="test with EXISTS")


def _query_session(cell: Cell, query: cst.BaseExpression) -> Optional[str]:
    from sqla_magic.analysis.rewrite import chain_of

    chain = chain_of(cell, query, query_only=True)
    if chain is None:
        return None
    if chain.kind == "query" and chain.session is not None:
        return cell.code(chain.session)
    return f"{cell.code(chain.start)}.session"
