"""n-plus-one: one relationship lazily loaded once per parent row.

Evidence: statements whose origin is `lazy load Parent.attr`, grouped by relationship and
cell line; a group of at least `n_plus_one_threshold` statements within one request of a
test client (or outside any) fires.  The parents' query
is a `session.query(Parent)`, `select(Parent)` or `Parent.query` in the cell, preferably on
the line of a `query` statement run before the first lazy load.  The rewrite adds
`.options(selectinload(Parent.attr))` to it (`joinedload` when the relationship is
many-to-one, where one JOIN adds a column set rather than multiplying rows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqla_magic.analysis import evidence, relationships
from sqla_magic.analysis.sources import deferred, parse_cell
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite

if TYPE_CHECKING:
    from sqla_magic.analysis.rewrite import Cell, QueryChain

RULE = "n-plus-one"


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    groups: dict[tuple[str, Optional[int]], list[int]] = {}
    for origin, indexes in evidence.index(report).by_origin.items():
        if relationships.lazy_loaded(origin):
            for index in indexes:
                groups.setdefault((origin, report.statements[index].line), []).append(index)
    groups = {
        key: kept
        for key, indexes in groups.items()
        if (kept := evidence.repeated_per_request(report, indexes, thresholds.n_plus_one_threshold))
    }
    groups = dict(sorted(groups.items(), key=lambda group: group[1][0]))  # in the order they ran
    if not any(len(indexes) >= thresholds.n_plus_one_threshold for indexes in groups.values()):
        return []
    cell = parse_cell(source)
    findings = []
    for (origin, _line), indexes in groups.items():
        if len(indexes) < thresholds.n_plus_one_threshold:
            continue
        owner, key = relationships.lazy_loaded(origin) or ("", "")
        facts = relationships.find(owner, key)
        loader = "joinedload" if facts is not None and facts.many_to_one else "selectinload"
        chain = _parents_query(report, cell, owner, indexes[0]) if cell is not None else None
        lines = tuple(
            sorted(
                {*evidence.lines_of(report, indexes), *([cell.line(chain.start)] if chain and cell else [])}
            )
        )
        message = (
            f"{len(report.statements)} statements, {len(indexes)} of them `{origin}` from "
            f"{evidence.line_words(evidence.lines_of(report, indexes))}"
            f"{evidence.request_words(report, indexes)}, "
            f"{evidence.ms(evidence.seconds(report, indexes))} of "
            f"{evidence.ms(evidence.database_seconds(report))} in the database. "
            f"Loading `{owner}.{key}` for all parents at once with `{loader}` "
            + (
                "takes no query of its own (the parents' query JOINs it)."
                if loader == "joinedload"
                else "takes one more query (per relationship loaded)."
            )
        )
        findings.append(
            Finding(
                rule=RULE,
                severity="high" if len(indexes) >= 5 * thresholds.n_plus_one_threshold else "medium",
                title=f"N+1 lazy loads of {owner}.{key}",
                message=message,
                lines=lines,
                statements=tuple(indexes),
                rewrite=deferred(_rewrite, cell, chain, loader, owner, key)
                if cell is not None and chain is not None
                else None,
            )
        )
    return findings


def _rewrite(cell: Cell, chain: QueryChain, loader: str, owner: str, key: str) -> Optional[Rewrite]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import expr

    option = expr(f"{loader}({cell.code(chain.entity)}.{key})")
    with_options = cst.Call(
        func=cst.Attribute(value=chain.start, attr=cst.Name("options")), args=[cst.Arg(option)]
    )
    return cell.rewrite(
        {chain.start: with_options},
        imports=[("sqlalchemy.orm", loader)],
        explanation=f"load `{owner}.{key}` with `{loader}` in the query of `{owner}`",
    )


def _parents_query(report: Report, cell: Cell, owner: str, first_lazy: int) -> Optional[QueryChain]:
    from sqla_magic.analysis.rewrite import entity_name, query_chains

    chains = [c for c in query_chains(cell) if entity_name(c) == owner]
    if not chains:
        return None
    query_lines = [
        s.line for s in report.statements[:first_lazy] if s.origin == "query" and s.line is not None
    ]
    for line in reversed(query_lines):
        for chain in chains:
            first, last = cell.lines(chain.outer)
            if first <= line <= last:
                return chain
    return chains[0] if len(chains) == 1 else None
