"""unused-columns: whole entities loaded where the code reads a few of their columns.

Evidence: a `query` statement that fetched at least `unused_columns_min_rows` rows of one
entity, and, where the statement ran (the cell, or a module by its stack), the query's
rows are only iterated (directly or through a name assigned once) by loops whose variable
is used only as `row.attr`, reading at most `unused_columns_max_fraction` of the selected
columns.  Rewrite: select those columns
(`select(E.a, E.b)` run with `execute`, `session.query(E.a, E.b)`,
`E.query.with_entities(E.a, E.b)`); rows keep `row.a` access, and no objects, identity map
entries or unread values are built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Optional, TypeVar

from sqla_magic import sqltext
from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.sources import deferred
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite

if TYPE_CHECKING:
    import libcst as cst

    from sqla_magic.analysis.rewrite import Cell, QueryChain

RULE = "unused-columns"
_Node = TypeVar("_Node", bound="cst.CSTNode")


def _loop_kinds() -> tuple[type[cst.CSTNode], ...]:
    import libcst as cst

    return (cst.For, cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    least = thresholds.unused_columns_min_rows
    indexed = evidence.index(report)
    rows, unframed = indexed.column("rows"), indexed.unframed
    loaded = [i for i in indexed.of_origin("query") if (rows[i] or 0) >= least and i not in unframed]
    if not loaded:
        return []
    findings = []
    for code in sites.codes(report, source, loaded):
        cell = code.parsed
        if cell is not None:
            findings.extend(
                _in_code(report, code, cell, [i for i in loaded if i in code.indexes], thresholds)
            )
    return findings


def _in_code(
    report: Report, code: sites.Code, cell: Cell, loaded: list[int], thresholds: Thresholds
) -> list[Finding]:
    from sqla_magic.analysis.rewrite import query_chains

    line_of = {i: line for line, group in code.lines.items() for i in group}
    findings = []
    seen: set[int] = set()
    for index in loaded:
        statement = report.statements[index]
        line = line_of.get(index, statement.line if code.is_cell else None)
        columns = sqltext.selected_columns(statement.sql)
        if len(columns) < 3 or line is None:
            continue
        for chain in query_chains(cell):
            first, last = cell.lines(chain.outer)
            if not (first <= line <= last) or id(chain.start) in seen or len(chain.entities) != 1:
                continue
            used = _used_attributes(cell, chain)
            if not used or not set(used) <= set(columns):
                continue
            if len(used) > thresholds.unused_columns_max_fraction * len(columns):
                continue
            seen.add(id(chain.start))
            entity = cell.code(chain.entity)
            place = code.site(line)
            memory = _memory_words(report, statement.line) if code.is_cell else ""
            findings.append(
                Finding(
                    rule=RULE,
                    severity="medium",
                    title=f"{len(columns)} columns loaded, {len(used)} used",
                    message=(
                        f"{_capital(sites.where(report, place))} loaded {statement.rows} whole `{entity}` "
                        f"rows ({len(columns)} columns each, "
                        f"{evidence.ms(evidence.seconds(report, [index]))} in the "
                        f"database{memory}), and the code reads only "
                        f"{', '.join(f'`{a}`' for a in used)}. Selecting those columns skips building "
                        "objects and the unread values."
                    ),
                    lines=(first,) if code.is_cell else evidence.lines_of(report, [index]),
                    sites=sites.sites(report, [index], also=[code.site(first)]),
                    statements=(index,),
                    rewrite=deferred(_rewrite, cell, chain, used),
                )
            )
    return findings


def _capital(words: str) -> str:
    return words[:1].upper() + words[1:]


def _memory_words(report: Report, line: Optional[int]) -> str:
    if report.memory is None or not report.memory.lines:
        return ""
    for memory_line in report.memory.lines:
        if memory_line.line == line and memory_line.peak_bytes:
            return f", {memory_line.peak_bytes / 2**20:.1f} MiB peak memory on that line"
    return ""


def _used_attributes(cell: Cell, chain: QueryChain) -> Optional[list[str]]:
    """Attributes read from the rows, if the rows are only ever read as `row.attr`."""
    if chain.kind == "select" and (
        chain.runner is None or any(name != "all" for name, _ in chain.result_methods)
    ):
        return None
    if (
        chain.kind == "select"
        and chain.runner is not None
        and cell.code(chain.runner.func).endswith(".execute")
    ):
        return None
    if chain.kind != "select" and {"first", "one", "scalar", "one_or_none", "count"} & set(
        chain.method_names
    ):
        return None
    loops = _loops_over(cell, chain.outer)
    if not loops:
        return None
    used: list[str] = []
    for loop in loops:
        attributes = _attributes_of_target(cell, loop)
        if attributes is None:
            return None
        used.extend(a for a in attributes if a not in used)
    return used


def _loops_over(cell: Cell, outer: cst.BaseExpression) -> Optional[list[cst.CSTNode]]:
    import libcst as cst

    parent = cell.parent(outer)
    if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is outer:
        loop = parent if isinstance(parent, cst.For) else cell.parent(parent)
        return [loop] if isinstance(loop, _loop_kinds()) else None
    if (
        isinstance(parent, cst.Assign)
        and len(parent.targets) == 1
        and isinstance(parent.targets[0].target, cst.Name)
    ):
        name = parent.targets[0].target.value
        if len(_scoped(cell, parent, cell.assignments_of(name))) != 1:
            return None
        loops: list[cst.CSTNode] = []
        for use in _scoped(cell, parent, cell.uses_of(name)):
            if use is parent.targets[0].target:
                continue
            holder = cell.parent(use)
            if isinstance(holder, cst.For) and holder.iter is use:
                loops.append(holder)
            elif isinstance(holder, cst.CompFor) and holder.iter is use:
                comprehension = cell.parent(holder)
                if comprehension is None or not isinstance(comprehension, _loop_kinds()):
                    return None
                loops.append(comprehension)
            else:
                return None
        return loops
    return None


def _scoped(cell: Cell, node: cst.CSTNode, found: Sequence[_Node]) -> list[_Node]:
    """`found` within the function around `node` (a module's other functions have names of
    their own); all of them outside any function."""
    import libcst as cst

    function = next((a for a in cell.ancestors(node) if isinstance(a, cst.FunctionDef)), None)
    if function is None:
        return list(found)
    return [f for f in found if function in cell.ancestors(f)]


def _attributes_of_target(cell: Cell, loop: cst.CSTNode) -> Optional[list[str]]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import loop_iter, loop_target

    variable = loop_target(loop)
    if variable is None or loop_iter(loop) is None:
        return None
    attributes: list[str] = []
    for use in _scoped(cell, loop, cell.uses_of(variable)):
        holder = cell.parent(use)
        if holder is getattr(loop, "target", None) or holder is getattr(
            getattr(loop, "for_in", None), "target", None
        ):
            continue
        if use is getattr(loop, "target", None) or use is getattr(
            getattr(loop, "for_in", None), "target", None
        ):
            continue
        if loop not in cell.ancestors(use):
            return None  # used after the loop: the objects themselves matter
        if not (isinstance(holder, cst.Attribute) and holder.value is use):
            return None
        grand = cell.parent(holder)
        if isinstance(grand, (cst.AssignTarget, cst.AugAssign)) or (
            isinstance(grand, cst.Call) and grand.func is holder
        ):
            return None
        if isinstance(grand, cst.Attribute) and grand.value is holder:
            # `row.attr.method` is fine for column values; relationships are excluded by the column check
            pass
        if holder.attr.value not in attributes:
            attributes.append(holder.attr.value)
    return attributes or None


def _rewrite(cell: Cell, chain: QueryChain, used: list[str]) -> Optional[Rewrite]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import expr

    entity = cell.code(chain.entity)
    columns = ", ".join(f"{entity}.{name}" for name in used)
    replacements: dict[cst.CSTNode, cst.CSTNode] = {}
    if chain.kind == "select":
        assert chain.runner is not None and isinstance(chain.runner.func, cst.Attribute)
        replacements[chain.start] = expr(f"{cell.code(chain.start.func)}({columns})")  # type: ignore[attr-defined]
        replacements[chain.runner.func] = chain.runner.func.with_changes(attr=cst.Name("execute"))
    elif chain.kind == "query":
        replacements[chain.start] = expr(f"{cell.code(chain.session)}.query({columns})")  # type: ignore[arg-type]
    else:
        replacements[chain.start] = expr(f"{cell.code(chain.start)}.with_entities({columns})")
    return cell.rewrite(
        replacements, explanation=f"select only {', '.join(used)} instead of whole `{entity}` objects"
    )
