"""loop-insert: a bulk load done one ORM object (or one INSERT) at a time.

Evidence: INSERT statements into one table carrying at least `loop_insert_threshold` rows,
either flushed by the ORM while the cell adds objects with `session.add(...)` in a loop or
`session.add_all([...comprehension...])`, or run one statement per loop iteration (a
per-row `execute`, or `bulk_insert_mappings` / `bulk_save_objects` called with one row at a
time).  Rewrite: `session.execute(insert(Model), [dict(...) for ...])`, one executemany
without building and tracking an object per row (for a per-row `execute`, one call with
the list of parameter sets; for a per-row bulk call, one bulk call with every row).  Rows
inserted from the user's module are judged from the statements alone (origin `flush`, or
one INSERT per execution from one place); the loop for the rewrite is the one in the
function of a frame on the statements' stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.sources import deferred, parse_cell
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite, Site

if TYPE_CHECKING:
    import libcst as cst

    from sqla_magic.analysis.rewrite import Cell

RULE = "loop-insert"


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    cell = None
    findings = []
    for table, indexes, rows in evidence.writes_by_table(report, "INSERT", thresholds.loop_insert_threshold):
        flushed = [i for i in indexes if report.statements[i].origin == "flush"]
        place = sites.commonest(report, indexes)
        if place is not None and not sites.in_cell(report, place):
            finding = _in_module(report, source, thresholds, table, indexes, rows, place, bool(flushed))
            if finding is not None:
                findings.append(finding)
            continue
        cell = cell or parse_cell(source)
        if cell is None:
            continue
        site = _adding_site(cell) if flushed else _executing_loop(cell, report, indexes, thresholds)
        if site is None:
            continue
        line = cell.line(site)
        bulk = _bulk_call(site)
        if flushed:
            how = "ORM objects added one by one and flushed"
        elif bulk is not None:
            how = f"`{bulk[1]}` called with one row per iteration of the loop on line {line}"
        else:
            how = f"one INSERT per iteration of the loop on line {line}"
        findings.append(
            Finding(
                rule=RULE,
                severity="high" if rows >= 10 * thresholds.loop_insert_threshold else "medium",
                title=f"{rows} rows inserted into {table} row by row",
                message=_message(report, table, indexes, rows, how, bool(flushed)),
                lines=tuple(sorted({line, *evidence.lines_of(report, indexes)})),
                sites=sites.sites(report, indexes, also=[Site(report.filename, line, sites.CELL_FUNCTION)]),
                statements=tuple(indexes),
                rewrite=deferred(_rewrite, cell, site),
            )
        )
    return findings


def _message(report: Report, table: str, indexes: list[int], rows: int, how: str, objects: bool) -> str:
    return (
        f"{rows} rows went into `{table}` as {how}: "
        f"{evidence.plural(len(indexes), 'INSERT statement')}, "
        f"{evidence.ms(evidence.seconds(report, indexes))} in the database"
        f"{' plus building and tracking each object' if objects else ''}; one "
        "`session.execute(insert(Model), rows)` sends them as one executemany."
    )


def _in_module(
    report: Report,
    source: str,
    thresholds: Thresholds,
    table: str,
    indexes: list[int],
    rows: int,
    place: Site,
    flushed: bool,
) -> Optional[Finding]:
    """The finding for rows inserted from the user's module, decided from the statements:
    flushed by the unit of work (one object per row), or one INSERT per execution from one
    place at least `loop_insert_threshold` times.  The loop is looked for, for the rewrite,
    in the function of each frame on the stack, innermost first."""
    if not flushed and len(indexes) < thresholds.loop_insert_threshold:
        return None  # already sent as executemany batches
    found: Optional[tuple[Cell, cst.CSTNode]] = None
    for frame in sites.stack(report, report.statements[indexes[0]]):
        code = sites.code_at(report, source, frame)
        cell = code.parsed
        if cell is None:
            continue
        within = sites.scope(cell, frame.line) if not code.is_cell else None
        node = _adding_site(cell, within) if flushed else _loop_on(cell, frame.line)
        if node is not None:
            found = (cell, node)
            break
    loop_place = (
        Site(found[0].path or report.filename, found[0].line(found[1]), place.function) if found else None
    )
    how = (
        f"ORM objects added one by one and flushed from {sites.where(report, place)}"
        if flushed
        else f"one INSERT per execution from {sites.where(report, place)}"
    )
    return Finding(
        rule=RULE,
        severity="high" if rows >= 10 * thresholds.loop_insert_threshold else "medium",
        title=f"{rows} rows inserted into {table} row by row",
        message=_message(report, table, indexes, rows, how, flushed),
        lines=evidence.lines_of(report, indexes),
        sites=sites.sites(report, indexes, also=[loop_place] if loop_place is not None else []),
        statements=tuple(indexes),
        rewrite=deferred(_rewrite, *found) if found is not None else None,
    )


def _adding_site(cell: Cell, within: Optional[tuple[int, int]] = None) -> Optional[cst.CSTNode]:
    """The loop around `session.add(...)`, or an `add_all` of a comprehension (in the
    lines `within`, if given)."""
    import libcst as cst

    from sqla_magic.analysis.rewrite import method_call

    for node in cell.of_type(cst.Call):
        called = method_call(node)
        if called is None or not called[2].args:
            continue
        if within is not None and not within[0] <= cell.line(node) <= within[1]:
            continue
        if called[1] == "add":
            loops = [loop for loop in cell.loops_around(node) if isinstance(loop, cst.For)]
            if loops:
                return loops[0]
        if called[1] == "add_all" and isinstance(called[2].args[0].value, (cst.ListComp, cst.GeneratorExp)):
            return node
    return None


def _loop_on(cell: Cell, line: int) -> Optional[cst.CSTNode]:
    """The innermost `for` loop around `line`."""
    import libcst as cst

    loops = cell.on_line(line, cst.For)
    return loops[-1] if loops else None


def _executing_loop(
    cell: Cell, report: Report, indexes: list[int], thresholds: Thresholds
) -> Optional[cst.CSTNode]:
    import libcst as cst

    if len(indexes) < thresholds.loop_insert_threshold:
        return None  # already sent as executemany batches
    lines = evidence.lines_of(report, indexes)
    for line in lines:
        loops = [n for n in reversed(cell.on_line(line, cst.For))]
        if loops:
            return loops[0]
    return None


def _rewrite(cell: Cell, site: cst.CSTNode) -> Optional[Rewrite]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import loop_body_statements, mentions, method_call, replaced_statement

    if isinstance(site, cst.Call):
        return _rewrite_add_all(cell, site)
    if not isinstance(site, cst.For) or site.orelse is not None or not isinstance(site.target, cst.Name):
        return None
    body = [
        small
        for s in loop_body_statements(site)
        if isinstance(s, cst.SimpleStatementLine)
        for small in s.body
    ]
    if len(body) != sum(
        len(s.body) if isinstance(s, cst.SimpleStatementLine) else 1000 for s in loop_body_statements(site)
    ):
        return None
    loop_head = f"for {cell.code(site.target)} in {cell.code(site.iter)}"
    session, model, values = _added_object(cell, body)
    if session is not None and model is not None and values is not None:
        code = f"{session}.execute(insert({model}), [dict({values}) for {loop_head[4:]}])"
        return cell.rewrite(
            {site: replaced_statement(site, code)},
            imports=[("sqlalchemy", "insert")],
            explanation="one executemany INSERT instead of an ORM object per row",
        )
    bulk = _bulk_call(site)
    if bulk is not None:
        call, name, row = bulk
        rows = cst.parse_expression(f"[{cell.code(row)} {loop_head}]")
        new_args = [*call.args[:-1], call.args[-1].with_changes(value=rows)]
        code = cell.module.code_for_node(call.with_changes(args=new_args))
        return cell.rewrite(
            {site: replaced_statement(site, code)},
            explanation=f"one `{name}` call with every row instead of one call per row",
        )
    if len(body) == 1 and isinstance(body[0], cst.Expr):
        called = method_call(body[0].value)
        if called is not None and called[1] == "execute" and len(called[2].args) == 2:
            statement, params = (a.value for a in called[2].args)
            if mentions(statement, site.target.value):
                return None
            if isinstance(params, cst.List) and len(params.elements) == 1:
                params = params.elements[0].value  # `execute(insert(T), [row])`: one row per call
            if isinstance(params, cst.List):
                return None  # several rows per call: their lists would need flattening
            code = (
                f"{cell.code(called[0])}.execute({cell.code(statement)}, [{cell.code(params)} {loop_head}])"
            )
            return cell.rewrite(
                {site: replaced_statement(site, code)},
                explanation="one executemany call with every row's parameters",
            )
    return None


_BULK = frozenset({"bulk_insert_mappings", "bulk_save_objects"})


def _bulk_call(site: cst.CSTNode) -> Optional[tuple[cst.Call, str, cst.BaseExpression]]:
    """(call, method, row) when `site` is a `for` loop whose whole body is one
    `session.bulk_insert_mappings(Model, [row])` / `session.bulk_save_objects([row])`."""
    import libcst as cst

    from sqla_magic.analysis.rewrite import loop_body_statements, mentions, method_call

    if not isinstance(site, cst.For) or site.orelse is not None or not isinstance(site.target, cst.Name):
        return None
    body = loop_body_statements(site)
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return None
    statement = body[0].body[0]
    if not isinstance(statement, cst.Expr):
        return None
    called = method_call(statement.value)
    if called is None or called[1] not in _BULK or not called[2].args:
        return None
    call = called[2]
    rows = call.args[-1]
    wanted = 2 if called[1] == "bulk_insert_mappings" else 1
    if len(call.args) != wanted or any(a.keyword or a.star for a in call.args):
        return None
    if any(mentions(a.value, site.target.value) for a in call.args[:-1]):
        return None
    if not isinstance(rows.value, cst.List) or len(rows.value.elements) != 1:
        return None
    element = rows.value.elements[0]
    if not isinstance(element, cst.Element):
        return None
    return call, called[1], element.value


def _added_object(
    cell: Cell, body: list[cst.BaseSmallStatement]
) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """(session, Model, keyword arguments) of `session.add(Model(...))` / `o = Model(...); session.add(o)`."""
    import libcst as cst

    from sqla_magic.analysis.rewrite import args_code, method_call

    constructed: Optional[cst.Call] = None
    if len(body) == 2 and isinstance(body[0], cst.Assign) and isinstance(body[1], cst.Expr):
        target = body[0].targets[0].target if len(body[0].targets) == 1 else None
        called = method_call(body[1].value)
        if (
            isinstance(target, cst.Name)
            and isinstance(body[0].value, cst.Call)
            and called is not None
            and called[1] == "add"
            and len(called[2].args) == 1
            and isinstance(called[2].args[0].value, cst.Name)
            and called[2].args[0].value.value == target.value
            and len(cell.uses_of(target.value)) == 2
        ):
            constructed = body[0].value
            session = cell.code(called[0])
    elif len(body) == 1 and isinstance(body[0], cst.Expr):
        called = method_call(body[0].value)
        if called is not None and called[1] == "add" and len(called[2].args) == 1:
            value = called[2].args[0].value
            if isinstance(value, cst.Call):
                constructed = value
                session = cell.code(called[0])
    if constructed is None or any(arg.keyword is None for arg in constructed.args):
        return None, None, None
    return session, cell.code(constructed.func), args_code(cell, constructed)


def _rewrite_add_all(cell: Cell, call: cst.Call) -> Optional[Rewrite]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import args_code, method_call

    called = method_call(call)
    comprehension = call.args[0].value
    if called is None or not isinstance(comprehension, (cst.ListComp, cst.GeneratorExp)):
        return None
    element = comprehension.elt
    if not isinstance(element, cst.Call) or any(arg.keyword is None for arg in element.args):
        return None
    rows = comprehension.with_changes(
        elt=cst.parse_expression(f"dict({args_code(cell, element)})"),
    )
    if isinstance(rows, cst.GeneratorExp):
        rows = cst.ListComp(elt=rows.elt, for_in=rows.for_in)
    model = cell.code(element.func)
    code = f"{cell.code(called[0])}.execute(insert({model}), {cell.module.code_for_node(rows)})"
    return cell.rewrite(
        {call: cst.parse_expression(code)},
        imports=[("sqlalchemy", "insert")],
        explanation="one executemany INSERT instead of an ORM object per row",
    )
