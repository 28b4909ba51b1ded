"""loop-select: one SELECT shape run once per item of a loop, with that item's parameters.

Evidence: SELECT statements that are not ORM loads (origin `query` or `core`: a
`session.get()` that misses the identity map, a helper query or a `COUNT` per row), of one
fingerprint, run from one place of the user's code (`Statement.site`, else the profiled
line) within one request, with at least `loop_select_threshold` different parameter sets.
Only real statements count: a `get()` answered by the identity map runs none.  Repeats
with the same parameters are `duplicate-query`'s; the queries from the target table of a
`lazy="dynamic"` relationship are `dynamic-relationship`'s.

Advice from the SQL: an aggregate is one `GROUP BY` query, a lookup by primary key one
`IN` query, anything else one query with `IN` over the loop's values or a join.  Where
the loop is in the cell and iterates a name, a list or a `range`, the rewrite loads
everything before the loop and leaves the loop's results unchanged:
`session.get(Model, key)` in the loop then finds each object in the identity map (the
prefetched list keeps them alive), and `session.scalar(select(func.count()).where(C == key))`
reads the count from one grouped query (0 where there is no row).
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Optional

from sqla_magic import sqltext
from sqla_magic.analysis import evidence, relationships, sites
from sqla_magic.analysis.sources import deferred, parse_cell
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite, Site, Statement

if TYPE_CHECKING:
    import libcst as cst

    from sqla_magic.analysis.rewrite import Cell, Replacement

RULE = "loop-select"
_AGGREGATE = re.compile(r"^\s*(count|sum|min|max|avg)\s*\(", re.I)
_KEY_LOOKUP = re.compile(r"\bWHERE\s+([\w\".`\[\]]+)\s*=\s*(\?|%\(\w+\)s|%s|:\w+|\$\d+)\s*$", re.I | re.S)


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    statements = report.statements
    indexed = evidence.index(report)
    repeated = [g for g in indexed.loop_groups if len(g) >= thresholds.loop_select_threshold]
    if not repeated:
        return []
    dynamic = [r.target_table for r in relationships.all_relationships() if r.lazy == "dynamic"]
    alternatives = "|".join(map(re.escape, dynamic))
    dynamic_tables = re.compile(rf"\b(?:{alternatives})\b") if dynamic else None
    tables = relationships.mapped_tables()
    cell = None
    in_database = evidence.database_seconds(report)
    findings = []
    for indexes in sorted(repeated, key=lambda g: g[0]):
        distinct = len(set(indexed.param_reprs(indexes)))
        if distinct < thresholds.loop_select_threshold:
            continue
        first = statements[indexes[0]]
        if dynamic_tables is not None and dynamic_tables.search(_from_list(first.sql)):
            continue
        table = _table(first.sql)
        kind = _kind(first.sql, tables.get(table or ""))
        in_cell = first.site is None or first.site.file == report.filename
        if in_cell and first.line is not None:
            cell = cell or parse_cell(source)
        rewrite = deferred(_rewrite, cell, first.line, kind) if in_cell and cell and first.line else None
        spent = evidence.seconds(report, indexes)
        caused_by = sites.site(report, first)
        where = (
            sites.where(report, caused_by)
            if caused_by
            else evidence.line_words(evidence.lines_of(report, indexes))
        )
        within = f" within request `{first.request}`" if first.request else ""
        findings.append(
            Finding(
                rule=RULE,
                severity="high" if len(indexes) >= 5 * thresholds.loop_select_threshold else "medium",
                title=f"{len(indexes)} runs of one {_KIND_WORDS[kind]} from {_short(first)}",
                message=(
                    f"{len(statements)} statements, {len(indexes)} of them `{_first_line(first.sql)}` "
                    f"from {where}{within}, each with other parameters ({distinct} different sets): "
                    f"{evidence.ms(spent)} of {evidence.ms(in_database)} in the database, "
                    f"{evidence.share_words(spent, report.wall_s)} of the profiled time. {_ADVICE[kind]}"
                ),
                lines=evidence.lines_of(report, indexes),
                statements=tuple(indexes),
                sites=sites.sites(report, indexes),
                rewrite=rewrite,
                seconds=spent,
                share=spent / report.wall_s if report.wall_s else None,
            )
        )
    return findings


_KIND_WORDS = {"aggregate": "aggregate query", "key": "lookup by primary key", "query": "query"}
_ADVICE = {
    "aggregate": "Compute it for every item at once: one query with `GROUP BY` on the column the loop "
    "filters on (and `IN` over the loop's values), read per item from a dict.",
    "key": "Load them at once: `select(Model).where(Model.id.in_(keys))` before the loop; `session.get()` "
    "then finds each object in the identity map without a query.",
    "query": "Run one query for all items: `IN` over the loop's values (or a join to the rows the loop "
    "iterates), and group the rows per item in Python.",
}


def _short(statement: Statement) -> str:
    site: Optional[Site] = statement.site
    if site is None:
        return f"line {statement.line}"
    return f"{site.function}" if site.function not in ("<module>", "") else f"line {site.line}"


def _first_line(sql: str) -> str:
    line = " ".join(sql.split())
    return line if len(line) <= 90 else line[:89] + "…"


@functools.lru_cache(maxsize=evidence.SQL_STRINGS_KEPT)
def _from_list(sql: str) -> str:
    return sqltext.from_clause(sql)[0] or ""


def _table(sql: str) -> Optional[str]:
    words = _from_list(sql).strip().split()
    return words[0].split(".")[-1].strip('"`[]') if words else None


def _kind(sql: str, facts: Optional[relationships.ColumnFacts]) -> str:
    if any(_AGGREGATE.match(item) for item in sqltext.split_top_level(_select_list(sql), ",")):
        return "aggregate"
    _from, rest = sqltext.from_clause(sql)
    match = _KEY_LOOKUP.search(rest)
    if match and facts is not None and len(facts.primary_key) == 1:
        column = match.group(1).rsplit(".", 1)[-1].strip('"`[]')
        if column == facts.primary_key[0]:
            return "key"
    return "query"


def _select_list(sql: str) -> str:
    upper = sql.upper()
    start = upper.find("SELECT") + len("SELECT")
    end = upper.find(" FROM ", start)
    return sql[start : end if end >= 0 else len(sql)]


# -- the cell rewrite ---------------------------------------------------------------------


def _rewrite(cell: Cell, line: int, kind: str) -> Optional[Rewrite]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import method_call

    for call in cell.on_line(line, cst.Call):
        assert isinstance(call, cst.Call)
        called = method_call(call)
        if called is None:
            continue
        loop = next(iter(cell.loops_around(call)), None)
        if loop is None or _items(cell, loop) is None:
            continue
        if called[1] == "get" and kind == "key":
            return _prefetch_gets(cell, call, loop)
        if called[1] == "scalar" and kind == "aggregate":
            return _grouped_aggregate(cell, call, loop)
    return None


def _items(cell: Cell, loop: cst.CSTNode) -> Optional[tuple[str, str]]:
    """(target, iterable) of a loop whose iterable can be read twice: a name, a list or tuple
    display or a `range(...)`."""
    import libcst as cst

    from sqla_magic.analysis.rewrite import call_name, loop_iter, loop_target

    target, iterable = loop_target(loop), loop_iter(loop)
    if isinstance(loop, cst.While) or target is None or iterable is None:
        return None
    if isinstance(loop, cst.For) and loop.orelse is not None:
        return None
    rereadable = isinstance(iterable, (cst.Name, cst.List, cst.Tuple)) or call_name(iterable) == "range"
    if isinstance(loop, (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)):
        rereadable = rereadable and not loop.for_in.ifs and loop.for_in.inner_for_in is None
    return (target, cell.code(iterable)) if rereadable else None


def _free_name(cell: Cell, base: str) -> str:
    name, number = base, 1
    while cell.uses_of(name):
        number += 1
        name = f"{base}_{number}"
    return name


def _before_loop(
    cell: Cell, loop: cst.CSTNode, code: str, inside: Optional[dict[cst.CSTNode, cst.CSTNode]] = None
) -> Optional[dict[cst.CSTNode, Replacement]]:
    """Replacement that puts the statement `code` right before the statement holding `loop`
    (with `inside` replaced within that statement)."""
    import libcst as cst

    from sqla_magic.analysis.rewrite import replaced

    statement = cell.statement_of(loop)
    if not isinstance(statement, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        return None
    new = cst.parse_statement(code).with_changes(leading_lines=statement.leading_lines)
    kept = replaced(statement, inside) if inside else statement
    assert isinstance(kept, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
    return {statement: cst.FlattenSentinel([new, kept.with_changes(leading_lines=[])])}


def _prefetch_gets(cell: Cell, call: cst.Call, loop: cst.CSTNode) -> Optional[Rewrite]:
    """`session.get(Model, key)` per item → one `IN` query first, whose objects the gets find."""
    from sqla_magic.analysis.rewrite import last_name, method_call

    called = method_call(call)
    items = _items(cell, loop)
    if called is None or items is None or len(call.args) != 2 or any(a.keyword or a.star for a in call.args):
        return None
    target, iterable = items
    model_node, key_node = call.args[0].value, call.args[1].value
    model = cell.code(model_node)
    facts = relationships.columns_of(last_name(model_node) or "")
    if facts is None or len(facts.primary_key) != 1:
        return None
    key = cell.code(key_node)
    keys = iterable if key == target else f"[{key} for {target} in {iterable}]"
    name = _free_name(cell, f"prefetched_{(last_name(model_node) or 'row').lower()}s")
    code = (
        f"{name} = {cell.code(called[0])}.scalars(select({model}).where("
        f"{model}.{facts.primary_key[0]}.in_({keys}))).all()"
    )
    replacement = _before_loop(cell, loop, code)
    if replacement is None:
        return None
    return cell.rewrite(
        replacement,
        imports=[("sqlalchemy", "select")],
        explanation=f"load every {model} of the loop with one IN query; each get() then finds it in the "
        "identity map",
    )


def _grouped_aggregate(cell: Cell, call: cst.Call, loop: cst.CSTNode) -> Optional[Rewrite]:
    """`session.scalar(select(func.count()).where(C == key))` per item → one `GROUP BY C`."""
    import libcst as cst

    from sqla_magic.analysis.rewrite import call_name, mentions, method_call

    called = method_call(call)
    items = _items(cell, loop)
    if called is None or items is None or len(call.args) != 1:
        return None
    target, iterable = items
    chain = _select_chain(call.args[0].value)
    if chain is None:
        return None
    aggregate, select_from, condition = chain
    if not isinstance(condition, cst.Comparison) or len(condition.comparisons) != 1:
        return None
    if not isinstance(condition.comparisons[0].operator, cst.Equal):
        return None
    left, right = condition.left, condition.comparisons[0].comparator
    if mentions(left, target) and not mentions(right, target):
        left, right = right, left
    if mentions(left, target) or not mentions(right, target):
        return None
    column, key = cell.code(left), cell.code(right)
    keys = iterable if key == target else f"[{key} for {target} in {iterable}]"
    start = f"select({column}, {cell.code(aggregate)})"
    if select_from is not None:
        start += f".select_from({select_from})"
    name = _free_name(cell, f"{call_name(aggregate) or 'aggregate'}_by_{column.rsplit('.', 1)[-1]}")
    code = (
        f"{name} = dict({cell.code(called[0])}.execute("
        f"{start}.where({column}.in_({keys})).group_by({column})).all())"
    )
    empty = "0" if call_name(aggregate) == "count" else "None"
    replacement = _before_loop(cell, loop, code, {call: cst.parse_expression(f"{name}.get({key}, {empty})")})
    if replacement is None:
        return None
    return cell.rewrite(
        replacement,
        explanation=f"one GROUP BY {column} query for every item of the loop instead of one query per item",
    )


def _select_chain(node: cst.BaseExpression) -> Optional[tuple[cst.Call, Optional[str], cst.BaseExpression]]:
    """(aggregate, select_from source, where condition) of
    `select(func.agg(...))[.select_from(T)].where(condition)`."""
    import libcst as cst

    from sqla_magic.analysis.rewrite import call_name, dotted, method_call

    called = method_call(node)
    if called is None or called[1] != "where" or len(called[2].args) != 1:
        return None
    condition = called[2].args[0].value
    receiver: cst.BaseExpression = called[0]
    select_from = None
    inner = method_call(receiver)
    if inner is not None and inner[1] == "select_from" and len(inner[2].args) == 1:
        select_from = dotted(inner[2].args[0].value)
        if select_from is None:
            return None
        receiver = inner[0]
    if not isinstance(receiver, cst.Call) or call_name(receiver) != "select" or len(receiver.args) != 1:
        return None
    aggregate = receiver.args[0].value
    if not isinstance(aggregate, cst.Call) or (dotted(aggregate.func) or "").split(".")[-2:-1] != ["func"]:
        return None
    return aggregate, select_from, condition
