"""unused-eager-load: a relationship eager-loaded and never read.

Evidence: a loader option (`joinedload`, `selectinload`, `subqueryload`, `immediateload`)
on `Entity.attr` in a query whose line ran statements, in the cell or in a module the
statements ran from (named by file, line and function), and, at run time, no read of
`Entity.attr` through its attribute anywhere in the profiled code (`Report.relationship_reads`:
the cell, functions of other cells and modules, templates).  A relationship whose reads
were not watched is never flagged, so removing the option cannot bring back the lazy
loads it saves.  A `joinedload` widens every row of the query with the related columns;
the others run extra statements (origin `eager load Entity.attr`), whose time the finding
names.  No threshold: one unused eager load is already paid on every run.  Rewrite: drop
the option (the whole `.options(...)` call when it was the only one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Optional

from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.sources import deferred
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite

if TYPE_CHECKING:
    import libcst as cst

    from sqla_magic.analysis.rewrite import Cell

RULE = "unused-eager-load"
_LOADERS = frozenset({"joinedload", "selectinload", "subqueryload", "immediateload"})


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    reads = report.relationship_reads
    if not reads or all(reads.values()):
        return []
    findings = []
    selects = evidence.index(report).of_verb("SELECT")
    for code, cell in sites.parsed_with(report, source, selects, "load("):
        findings.extend(_in_code(report, code, cell, reads))
    return findings


def _in_code(report: Report, code: sites.Code, cell: Cell, reads: Mapping[str, bool]) -> list[Finding]:
    """The unread eager loads of one file (the cell or a module) whose query ran from it."""
    import libcst as cst

    from sqla_magic.analysis.rewrite import call_name

    findings = []
    for option in cell.of_type(cst.Call):
        assert isinstance(option, cst.Call)
        target = _eager_target(option)
        statement = cell.statement_of(option) if target is not None else None
        if target is None or statement is None:
            continue
        ran = code.on_lines(*cell.lines(statement))
        entity, attribute = target
        name = f"{entity}.{attribute}"
        if not ran or reads.get(name, True):  # not run here; read, or not watched
            continue
        extra = evidence.index(report).of_origin(f"eager load {name}")
        cost = (
            f"{len(extra)} extra statement{'' if len(extra) == 1 else 's'} (`eager load {name}`), "
            f"{evidence.ms(evidence.seconds(report, extra))} in the database"
            if extra
            else "the related rows joined into every row of the query"
        )
        line = cell.line(option)
        place = code.site(line)
        findings.append(
            Finding(
                rule=RULE,
                severity="medium" if extra else "low",
                title=f"{name} is eager-loaded but never read",
                message=(
                    f"`{call_name(option)}({name})` on {sites.where(report, place)} loads {name} for "
                    f"every row, and nothing read `.{attribute}` of any `{entity}` while the code ran: "
                    f"{cost} for nothing."
                ),
                lines=(line,) if code.is_cell else evidence.lines_of(report, ran),
                sites=sites.sites(report, [*ran, *extra], also=[place]),
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
