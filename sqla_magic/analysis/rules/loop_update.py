"""loop-update: rows updated one by one, where one UPDATE statement would do.

Evidence: UPDATE statements on one table (flushed by the ORM after objects were changed
in a loop, or run per iteration) that together carry at least `loop_update_threshold`
rows, and a `for` loop in the cell that assigns attributes of its loop variable or runs
the UPDATE.  Rewrite, when the loop iterates over a query and only assigns column
expressions: one `update()` with the query's filters (`Query.update` for 1.x queries,
`session.execute(update(Model).where(...).values(...))` for `select()`).  Rows updated
from the user's module are judged from the statements alone (flushed, or one UPDATE per
execution from one place); the loop for the rewrite is the one around a frame of the
statements' stack, or the one loop of that frame's function assigning attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.sources import deferred, parse_cell
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite, Site

if TYPE_CHECKING:
    import libcst as cst

    from sqla_magic.analysis.rewrite import Cell, QueryChain

RULE = "loop-update"
_KEPT_FILTERS = ("filter", "where", "filter_by")
_DROPPED = ("order_by", "all")


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    cell = None
    findings = []
    for table, indexes, rows in evidence.writes_by_table(report, "UPDATE", thresholds.loop_update_threshold):
        place = sites.commonest(report, indexes)
        if place is not None and not sites.in_cell(report, place):
            finding = _in_module(report, source, thresholds, table, indexes, rows, place)
            if finding is not None:
                findings.append(finding)
            continue
        cell = cell or parse_cell(source)
        loop = _loop(cell, report, indexes, table) if cell is not None else None
        if loop is None:
            continue
        assert cell is not None
        loop_line = cell.line(loop)
        lines = tuple(sorted({loop_line, *evidence.lines_of(report, indexes)}))
        findings.append(
            Finding(
                rule=RULE,
                severity="high" if rows >= 10 * thresholds.loop_update_threshold else "medium",
                title=f"{rows} rows of {table} updated one by one",
                message=_message(report, f"The loop on line {loop_line}", table, indexes, rows),
                lines=lines,
                sites=sites.sites(
                    report, indexes, also=[Site(report.filename, loop_line, sites.CELL_FUNCTION)]
                ),
                statements=tuple(indexes),
                rewrite=deferred(_rewrite, cell, loop),
            )
        )
    return findings


def _message(report: Report, subject: str, table: str, indexes: list[int], rows: int) -> str:
    return (
        f"{subject} changed {rows} rows of `{table}`, sent as "
        f"{evidence.plural(len(indexes), 'UPDATE statement')} with one parameter set per row "
        f"({evidence.ms(evidence.seconds(report, indexes))} in the database, plus loading and "
        "tracking every object); one UPDATE with the loop's filter changes them all."
    )


def _in_module(
    report: Report,
    source: str,
    thresholds: Thresholds,
    table: str,
    indexes: list[int],
    rows: int,
    place: Site,
) -> Optional[Finding]:
    """Rows updated from the user's module, judged from the statements: flushed by the
    unit of work (objects changed one by one), or one UPDATE per execution from one place.
    The loop (for the rewrite) is looked for in the function of each frame on the stack."""
    flushed = all(report.statements[i].origin == "flush" for i in indexes)
    if not flushed and len(indexes) < thresholds.loop_update_threshold:
        return None  # an executemany the code sent as such
    found: Optional[tuple[sites.Code, cst.For]] = None
    for frame in sites.stack(report, report.statements[indexes[0]]):
        code = sites.code_at(report, source, frame)
        cell = code.parsed
        if cell is None or code.is_cell:
            continue
        loop = _loop_in(cell, frame.line, table)
        if loop is not None:
            found = (code, loop)
            break
    loop_site = found[0].site(found[0].parsed.line(found[1])) if found and found[0].parsed else None
    subject = (
        f"The loop at {sites.where(report, loop_site)}"
        if loop_site
        else (f"The code that ran {sites.where(report, place)}")
    )
    return Finding(
        rule=RULE,
        severity="high" if rows >= 10 * thresholds.loop_update_threshold else "medium",
        title=f"{rows} rows of {table} updated one by one",
        message=_message(report, subject, table, indexes, rows),
        lines=evidence.lines_of(report, indexes),
        sites=sites.sites(report, indexes, also=[loop_site] if loop_site else []),
        statements=tuple(indexes),
        rewrite=deferred(_rewrite, found[0].parsed, found[1]) if found and found[0].parsed else None,
    )


def _loop_in(cell: Cell, line: int, table: str) -> Optional[cst.For]:
    """The loop around `line`, else the one loop of `line`'s function that assigns
    attributes of its variable (the objects a later flush wrote)."""
    import libcst as cst

    around = cell.on_line(line, cst.For)
    if around:
        loop = around[-1]
        assert isinstance(loop, cst.For)
        return loop
    first, last = sites.scope(cell, line)
    candidates = [
        node
        for node in cell.of_type(cst.For)
        if isinstance(node, cst.For) and first <= cell.line(node) <= last and _assigned_attributes(node)
    ]
    if len(candidates) > 1:
        named = [c for c in candidates if _entity_of(cell, c).lower() in table.lower()]
        candidates = named or candidates
    return candidates[0] if len(candidates) == 1 else None


def _loop(cell: Cell, report: Report, indexes: list[int], table: str) -> Optional[cst.For]:
    """The loop that changed the rows: it runs the UPDATEs, or assigns to its variable."""
    import libcst as cst

    for index in indexes:
        line = report.statements[index].line
        if line is None:
            continue
        for node in reversed(cell.on_line(line, cst.For)):
            assert isinstance(node, cst.For)
            return node
    candidates = []
    for node in cell.of_type(cst.For):
        assert isinstance(node, cst.For)
        if _assigned_attributes(node):
            candidates.append(node)
    if len(candidates) > 1:
        named = [c for c in candidates if _entity_of(cell, c).lower() in table.lower()]
        candidates = named or candidates
    return candidates[0] if len(candidates) == 1 else None


def _entity_of(cell: Cell, loop: cst.For) -> str:
    from sqla_magic.analysis.rewrite import chain_of

    chain = chain_of(cell, loop.iter)
    return (cell.code(chain.entity).rsplit(".", 1)[-1]) if chain is not None else "\0"


def _assigned_attributes(loop: cst.For) -> list[cst.BaseSmallStatement]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import loop_body_statements, loop_target

    variable = loop_target(loop)
    found: list[cst.BaseSmallStatement] = []
    if variable is None:
        return found
    for statement in loop_body_statements(loop):
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            targets: list[cst.BaseExpression] = []
            if isinstance(small, cst.Assign):
                targets = [t.target for t in small.targets]
            elif isinstance(small, cst.AugAssign):
                targets = [small.target]
            if any(
                isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name) and t.value.value == variable
                for t in targets
            ):
                found.append(small)
    return found


def _rewrite(cell: Cell, loop: cst.For) -> Optional[Rewrite]:
    from sqla_magic.analysis.rewrite import chain_of, loop_target, replaced_statement

    variable = loop_target(loop)
    chain = chain_of(cell, loop.iter)
    if variable is None or chain is None or loop.orelse is not None:
        return None
    values = _values(cell, loop, variable, cell.code(chain.entity))
    if values is None:
        return None
    statement = _update_statement(cell, chain, values)
    if statement is None:
        return None
    return cell.rewrite(
        {loop: replaced_statement(loop, statement)},
        imports=[("sqlalchemy", "update")] if chain.kind == "select" else [],
        explanation="one UPDATE statement with the loop's filter instead of one row at a time",
    )


def _values(cell: Cell, loop: cst.For, variable: str, entity: str) -> Optional[list[str]]:
    """`Entity.attr: expression` pairs for a body made only of attribute assignments."""
    import libcst as cst

    from sqla_magic.analysis.rewrite import ToColumns, loop_body_statements, mentions

    pairs: list[str] = []
    assigned: set[str] = set()
    for statement in loop_body_statements(loop):
        if not isinstance(statement, cst.SimpleStatementLine):
            return None
        for small in statement.body:
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target, value, operator = small.targets[0].target, small.value, ""
            elif isinstance(small, cst.AugAssign):
                target, value = small.target, small.value
                operator = cell.module.code_for_node(small.operator).strip()[:-1]
            else:
                return None
            if not (
                isinstance(target, cst.Attribute)
                and isinstance(target.value, cst.Name)
                and target.value.value == variable
            ):
                return None
            attribute = target.attr.value
            columns = ToColumns(variable, entity)
            converted = value.visit(columns)
            if not isinstance(converted, cst.BaseExpression):
                return None
            if columns.unsupported or mentions(converted, variable):
                return None
            if any(mentions_attribute(value, variable, name) for name in assigned):
                return None
            text = cell.module.code_for_node(converted)
            if operator:
                simple = isinstance(
                    converted, (cst.Name, cst.Attribute, cst.Integer, cst.Float, cst.SimpleString)
                )
                text = f"{entity}.{attribute} {operator} {text if simple else f'({text})'}"
            assigned.add(attribute)
            pairs.append(f"{entity}.{attribute}: {text}")
    return pairs or None


def mentions_attribute(node: cst.CSTNode, variable: str, attribute: str) -> bool:
    import libcst as cst

    code = cst.Module(body=[]).code_for_node(node)
    return f"{variable}.{attribute}" in code


def _update_statement(cell: Cell, chain: QueryChain, values: list[str]) -> Optional[str]:
    from sqla_magic.analysis.rewrite import args_code

    if any(name not in _KEPT_FILTERS + _DROPPED for name in chain.method_names):
        return None
    if chain.kind == "select" and (
        chain.runner is None
        or any(name not in ("all", "scalars") for name, _ in chain.result_methods)
        or len(chain.entities) != 1
    ):
        return None
    filters = "".join(
        f".{name}({args_code(cell, call)})" for name, call in chain.methods if name in _KEPT_FILTERS
    )
    mapping = "{" + ", ".join(values) + "}"
    if chain.kind == "select":
        assert chain.session is not None
        entity = cell.code(chain.entity)
        return f"{cell.code(chain.session)}.execute(update({entity}){filters}.values({mapping}))"
    return f"{cell.code(chain.start)}{filters}.update({mapping})"
