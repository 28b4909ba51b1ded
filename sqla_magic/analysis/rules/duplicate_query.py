"""duplicate-query: the same SELECT with the same parameters, run again and again.

Evidence: SELECT statements with identical SQL and parameters, at least
`duplicate_query_threshold` times within one request of a test client (or outside any):
what an app does once per request is not a duplicate.  Rewrite, when every duplicate comes
from one query expression (in the cell, or a module by the statements' stack) inside a `for`
loop that does not depend on the loop: compute it once before
the loop and reuse the value.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Optional

from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.sources import deferred
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite, Site

if TYPE_CHECKING:
    import libcst as cst

    from sqla_magic.analysis.rewrite import Cell

RULE = "duplicate-query"


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    limit = thresholds.duplicate_query_threshold
    indexed = evidence.index(report)
    executemany = indexed.column("executemany")
    some_executemany = any(executemany)
    one_request = len(indexed.by_request) == 1
    frames = indexed.frames
    sole = indexed.sole("frames")
    # Only strings run at least `limit` times can repeat with the same parameters: the
    # others' parameters are not read.  The (string, parameters) groups that repeat, with
    # their places: all of a string's groups at once where they share one frame.
    repeated: list[tuple[int, str, tuple[Site, ...], list[list[int]], Optional[list[int]]]] = []
    for sql, run in indexed.selects_by_sql.items():
        if len(run) < limit:
            continue
        if some_executemany:
            run = [i for i in run if not executemany[i]]
        # one frame object for the whole string (a query in a loop): its groups share it
        if sole:
            shared: Optional[tuple[Site, ...]] = (sole[0],) if sole[0] is not None else ()
        else:
            run_frames = evidence.picked(frames, run)
            one = run_frames[0] if run_frames else None
            alike = all(map(operator.is_, run_frames, repeat(one)))
            shared = ((one,) if one is not None else ()) if alike else None
        reprs = indexed.param_reprs(run)
        distinct = dict.fromkeys(reprs)
        if limit > 1 and len(distinct) == len(reprs):
            continue  # every parameter set once (a loop's lookups): no group to read
        groups = evidence.grouped(reprs, run, distinct).values()
        if one_request and shared is not None:
            sets = [group for group in groups if len(group) >= limit]
            if sets:  # with every group of the string: its statements are the string's
                repeated.append((sets[0][0], sql, shared, sets, run if len(sets) == len(groups) else None))
            continue
        for group in groups:
            kept = group if one_request else evidence.repeated_per_request(report, group, limit)
            if len(kept) >= limit:
                places = shared if shared is not None else _places(frames, kept)
                repeated.append((group[0], sql, places, [kept], None))
    if not repeated:
        return []
    repeated.sort(key=operator.itemgetter(0))  # in the order they first ran
    # One finding per statement shape and place, however many parameter sets repeat there.
    by_place: dict[tuple[str, tuple[Site, ...]], list[list[int]]] = {}
    whole: dict[tuple[str, tuple[Site, ...]], Optional[list[int]]] = {}
    for _first, sql, places, sets, every in repeated:
        key = (sql, places)
        whole[key] = every if key not in by_place else None
        by_place.setdefault(key, []).extend(sets)
    findings = []
    for key, sets in by_place.items():
        _sql, places = key
        every = whole[key]
        indexes = list(every) if every is not None else evidence.merged(sets)
        first = report.statements[indexes[0]]
        lines = evidence.lines_of(report, indexes)
        repeats = "the same parameters" if len(sets) == 1 else f"{len(sets)} parameter sets each repeated"
        code = sites.code_at(report, source, places[0]) if len(places) == 1 else None
        findings.append(
            Finding(
                rule=RULE,
                severity="medium" if len(indexes) >= 3 * thresholds.duplicate_query_threshold else "low",
                title=f"Same query run {len(indexes)} times",
                message=(
                    f"{len(report.statements)} statements, {len(indexes)} of them the same SELECT with "
                    f"{repeats} ({first.origin}) from {sites.where_all(report, places)}"
                    f"{evidence.request_words(report, indexes)}, "
                    f"{evidence.ms(evidence.seconds(report, indexes))} in the database; run it once and "
                    "reuse the result."
                ),
                lines=lines,
                sites=sites.sites(report, indexes),
                statements=tuple(indexes),
                rewrite=deferred(_rewrite, code.parsed, places[0].line)
                if code is not None and code.parsed is not None
                else None,
            )
        )
    return findings


def _places(frames: Sequence[Optional[Site]], indexes: Sequence[int]) -> tuple[Site, ...]:
    """The distinct innermost frames of the statements at `indexes`, in a stable order."""
    chosen = evidence.picked(frames, indexes)
    distinct = dict(zip(map(id, chosen), chosen, strict=True))  # a few shared frames
    distinct.pop(id(None), None)
    return tuple(sorted(set(distinct.values()), key=str))  # type: ignore[arg-type]


def _rewrite(cell: Cell, line: int) -> Optional[Rewrite]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import query_chains, replaced

    for chain in query_chains(cell):
        first, last = cell.lines(chain.outer)
        if not first <= line <= last:
            continue
        loops = [loop for loop in cell.loops_around(chain.outer) if isinstance(loop, cst.For)]
        if not loops:
            return None
        loop = loops[-1]
        expression = chain.outer
        if _depends_on_loop(cell, expression, loop):
            return None
        statement = cell.statement_of(loop)
        if statement is not loop or not isinstance(cell.parent(loop), (cst.Module, cst.IndentedBlock)):
            return None
        name = "reused_result"
        hoisted = cst.parse_statement(f"{name} = {cell.code(expression)}\n")
        new_loop = replaced(loop, {expression: cst.Name(name)})
        assert isinstance(new_loop, cst.For)
        return cell.rewrite(
            {
                loop: cst.FlattenSentinel(
                    [
                        hoisted.with_changes(leading_lines=loop.leading_lines),
                        new_loop.with_changes(leading_lines=()),
                    ]
                )
            },
            explanation="run the query once, before the loop",
        )
    return None


def _depends_on_loop(cell: Cell, expression: cst.BaseExpression, loop: cst.For) -> bool:
    from sqla_magic.analysis.rewrite import chain_of, loop_target, mentions

    names = {loop_target(loop)} | _assigned_in(loop)
    return (
        any(name is not None and mentions(expression, name) for name in names)
        or chain_of(cell, expression) is None
    )


def _assigned_in(loop: cst.For) -> set[str]:
    import libcst as cst

    found: set[str] = set()

    class Targets(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:  # noqa: N802
            if isinstance(node.target, cst.Name):
                found.add(node.target.value)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:  # noqa: N802
            if isinstance(node.target, cst.Name):
                found.add(node.target.value)

    loop.visit(Targets())
    if not isinstance(loop.target, cst.Name):
        found.add("\0")
    return found
