"""unused-eager-load: a relationship eager-loaded and never read.

Evidence: a loader option (`joinedload`, `selectinload`, `subqueryload`, `immediateload`)
on `Entity.attr` in a query whose line ran statements, and no read of `.attr` anywhere
else in its scope (the enclosing function, else the whole cell), and the loaded objects
are not handed to a function the cell does not define (it might read the relationship).  A `joinedload` widens
every row of the query with the related columns; the others run extra statements (origin
`eager load Entity.attr`), whose time the finding names.  No threshold: one unused eager
load is already paid on every run.  Rewrite: drop the option (the whole `.options(...)`
call when it was the only one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqla_magic.analysis import evidence
from sqla_magic.analysis.sources import deferred, parse_cell
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite

if TYPE_CHECKING:
    import libcst as cst

    from sqla_magic.analysis.rewrite import Cell

RULE = "unused-eager-load"
_LOADERS = frozenset({"joinedload", "selectinload", "subqueryload", "immediateload"})


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    cell = parse_cell(source) if any(loader in source for loader in _LOADERS) else None
    if cell is None:
        return []
    import libcst as cst

    from sqla_magic.analysis.rewrite import call_name

    ran = {s.line for s in report.statements if s.line is not None}
    findings = []
    for option in cell.of_type(cst.Call):
        assert isinstance(option, cst.Call)
        target = _eager_target(option)
        if target is None or not _ran_on(cell, option, ran):
            continue
        entity, attribute = target
        if _read_elsewhere(cell, option, attribute) or _handed_to_unseen_code(cell, option):
            continue
        name = f"{entity}.{attribute}"
        extra = [i for i, s in enumerate(report.statements) if s.origin == f"eager load {name}"]
        cost = (
            f"{len(extra)} extra statement{'' if len(extra) == 1 else 's'} (`eager load {name}`), "
            f"{evidence.ms(evidence.seconds(report, extra))} in the database"
            if extra
            else "the related rows joined into every row of the query"
        )
        line = cell.line(option)
        findings.append(
            Finding(
                rule=RULE,
                severity="medium" if extra else "low",
                title=f"{name} is eager-loaded but never read",
                message=(
                    f"`{call_name(option)}({name})` on line {line} loads {name} for every row, and the "
                    f"code never reads `.{attribute}`: {cost} for nothing."
                ),
                lines=(line,),
                statements=tuple(extra),
                rewrite=deferred(_without, cell, option),
            )
        )
    return findings


def _eager_target(call: cst.Call) -> Optional[tuple[str, str]]:
    from sqla_magic.analysis.rewrite import call_name, dotted

    if call_name(call) not in _LOADERS or len(call.args) != 1:
        return None
    path = dotted(call.args[0].value)
    if path is None or "." not in path:
        return None
    entity, attribute = path.rsplit(".", 1)
    return entity.rsplit(".", 1)[-1], attribute


def _ran_on(cell: Cell, node: cst.CSTNode, lines_that_ran: set[int]) -> bool:
    statement = cell.statement_of(node)
    if statement is None:
        return False
    first, last = cell.lines(statement)
    return any(first <= line <= last for line in lines_that_ran)


def _read_elsewhere(cell: Cell, option: cst.Call, attribute: str) -> bool:
    """Whether `.attribute` is read in the option's scope: its function, else the whole cell."""
    import libcst as cst

    scope = next((a for a in cell.ancestors(option) if isinstance(a, cst.FunctionDef)), cell.module)
    inside = set(_subtree(option))
    return any(
        isinstance(node, cst.Attribute) and node.attr.value == attribute and node not in inside
        for node in _subtree(scope)
    )


def _handed_to_unseen_code(cell: Cell, option: cst.Call) -> bool:
    """Whether the loaded objects go to a function whose body the cell does not show.

    A serializer defined in another cell or module may read the relationship; only calls
    to builtins and to functions defined in the cell itself are known not to.
    """
    import libcst as cst

    statement = cell.statement_of(option)
    if statement is None:
        return False
    names = {target.value for node in _subtree(statement) for target in _bound_names(node)}
    defined = {node.name.value for node in cell.of_type(cst.FunctionDef) if isinstance(node, cst.FunctionDef)}
    for call in cell.of_type(cst.Call):
        assert isinstance(call, cst.Call)
        if not isinstance(call.func, cst.Name):
            continue
        function = call.func.value
        if function in defined or function in _BUILTINS:
            continue
        if any(isinstance(arg.value, cst.Name) and arg.value.value in names for arg in call.args):
            return True
    return False


def _bound_names(node: cst.CSTNode) -> list[cst.Name]:
    import libcst as cst

    if isinstance(node, cst.AssignTarget) and isinstance(node.target, cst.Name):
        return [node.target]
    if isinstance(node, (cst.For, cst.CompFor)) and isinstance(node.target, cst.Name):
        return [node.target]
    return []


_BUILTINS = frozenset(
    {"len", "list", "tuple", "set", "dict", "sorted", "sum", "min", "max", "any", "all", "print",
     "enumerate", "zip", "map", "filter", "iter", "next", "repr", "str", "bool", "reversed", "display"}
)  # fmt: skip


def _subtree(node: cst.CSTNode) -> list[cst.CSTNode]:
    import libcst as cst

    found: list[cst.CSTNode] = []

    class Collect(cst.CSTVisitor):
        def on_visit(self, visited: cst.CSTNode) -> bool:
            found.append(visited)
            return True

    node.visit(Collect())
    return found


def _without(cell: Cell, option: cst.Call) -> Optional[Rewrite]:
    """The cell with the option dropped from its `.options(...)` call."""
    import libcst as cst

    from sqla_magic.analysis.rewrite import call_name, method_call

    options = cell.parent(cell.parent(option) or option)
    called = method_call(options) if options is not None else None
    if called is None or called[1] != "options":
        return None
    receiver, _name, options_call = called
    remaining = [arg for arg in options_call.args if arg.value is not option]
    if not remaining:
        replacement: cst.BaseExpression = receiver
    else:
        remaining[-1] = remaining[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        replacement = options_call.with_changes(args=remaining)
    return cell.rewrite({options_call: replacement}, explanation=f"drop the unused {call_name(option)}")
