"""n-plus-one: one relationship lazily loaded once per parent row.

Evidence: statements whose origin is `lazy load Parent.attr`, grouped by relationship and
innermost user place; a group of at least `n_plus_one_threshold` statements within one
request of a test client (or outside any) fires.  The parents' query
is a `session.query(Parent)`, `select(Parent)` or `Parent.query` at a place (in the cell or
the user's module) where a `query` statement ran before the first lazy load, else the
cell's only query of `Parent`.  Lazy loads are grouped by the innermost place of the
user's code that triggered them, so an N+1 inside a module or a template is found from the
statements' stacks alone, and named by file, line and function.  The rewrite adds
`.options(selectinload(Parent.attr))` to it (`joinedload` when the relationship is
many-to-one, where one JOIN adds a column set rather than multiplying rows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqla_magic.analysis import evidence, relationships, sites
from sqla_magic.analysis.sources import deferred
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite

if TYPE_CHECKING:
    from sqla_magic.analysis.rewrite import Cell, QueryChain

RULE = "n-plus-one"


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    groups: dict[tuple[str, Optional[tuple[str, int]]], list[int]] = {}
    indexed = evidence.index(report)
    for origin, indexes in indexed.by_origin.items():
        if relationships.lazy_loaded(origin):
            by_place = evidence.grouped(evidence.picked(indexed.frame_places, indexes), indexes)
            groups.update(((origin, place), group) for place, group in by_place.items())
    groups = {
        key: kept
        for key, indexes in groups.items()
        if (kept := evidence.repeated_per_request(report, indexes, thresholds.n_plus_one_threshold))
    }
    groups = dict(sorted(groups.items(), key=lambda group: group[1][0]))  # in the order they ran
    if not any(len(indexes) >= thresholds.n_plus_one_threshold for indexes in groups.values()):
        return []
    findings = []
    for (origin, _place), indexes in groups.items():
        if len(indexes) < thresholds.n_plus_one_threshold:
            continue
        owner, key = relationships.lazy_loaded(origin) or ("", "")
        facts = relationships.find(owner, key)
        loader = "joinedload" if facts is not None and facts.many_to_one else "selectinload"
        found = sites.loading_query(report, source, owner, indexes[0])
        code, chain = found if found is not None else (None, None)
        query_site = code.site(code.parsed.line(chain.start)) if code and code.parsed and chain else None
        query_lines = (
            [query_site.line] if query_site is not None and code is not None and code.is_cell else []
        )
        lines = tuple(sorted({*evidence.lines_of(report, indexes), *query_lines}))
        where = sites.where(report, sites.site(report, report.statements[indexes[0]]))
        message = (
            f"{len(report.statements)} statements, {len(indexes)} of them `{origin}` from "
            f"{where}{evidence.request_words(report, indexes)}, "
            f"{evidence.ms(evidence.seconds(report, indexes))} of "
            f"{evidence.ms(evidence.database_seconds(report))} in the database. "
            f"Loading `{owner}.{key}` for all parents at once with `{loader}` "
            + (
                "takes no query of its own (the parents' query JOINs it)."
                if loader == "joinedload"
                else "takes one more query (per relationship loaded)."
            )
        )
        if query_site is not None and not sites.in_cell(report, query_site):
            message += f" The parents' query is at {sites.where(report, query_site)}."
        findings.append(
            Finding(
                rule=RULE,
                severity="high" if len(indexes) >= 5 * thresholds.n_plus_one_threshold else "medium",
                title=f"N+1 lazy loads of {owner}.{key}",
                message=message,
                lines=lines,
                sites=sites.sites(report, indexes, also=[query_site] if query_site is not None else []),
                statements=tuple(indexes),
                rewrite=deferred(_rewrite, code.parsed, chain, loader, owner, key)
                if code is not None and code.parsed is not None and chain is not None
                else None,
            )
        )
    return findings


def _rewrite(cell: Cell, chain: QueryChain, loader: str, owner: str, key: str) -> Optional[Rewrite]:
    from sqla_magic.analysis.rewrite import with_loader_options

    return with_loader_options(
        cell,
        chain,
        loader,
        [key],
        explanation=f"load `{owner}.{key}` with `{loader}` in the query of `{owner}`",
    )
