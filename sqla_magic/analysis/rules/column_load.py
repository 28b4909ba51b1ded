"""column-load: deferred or expired attributes loaded one object at a time.

Evidence: statements whose origin is `refresh Class` (the ORM loading attributes of one
object it already holds, by primary key), grouped by class and by place in the user's
code (`Statement.site`, else the profiled line) within one request; a group of at least
`column_load_threshold` fires.  What was loaded tells the cause apart: if every selected
column is mapped `deferred` on the class, or the primary key is not among them (a
`defer()` / `load_only()` option left them out), the objects were loaded without them and
each read loads them → `.options(undefer(Class.column))` on the query that loaded the
objects, written as a rewrite where that query is found (as n-plus-one finds the parents'
query, `sites.loading_query`), or named in its `load_only`; otherwise the objects had
expired, all their columns are loaded again (a commit with `expire_on_commit=True`, the
default, or `expire()`) → `Session(expire_on_commit=False)`, or read the attributes before
the commit: advice only, since where a commit goes is the program's own decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqla_magic import sqltext
from sqla_magic.analysis import evidence, relationships, sites
from sqla_magic.analysis.sources import deferred
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite

if TYPE_CHECKING:
    from sqla_magic.analysis.rewrite import Cell, QueryChain

RULE = "column-load"
_PREFIX = "refresh "


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    statements = report.statements
    groups: dict[tuple[object, ...], list[int]] = {}
    indexed = evidence.index(report)
    for origin, indexes in indexed.by_origin.items():
        if not origin.startswith(_PREFIX):
            continue
        request_places = zip(
            evidence.picked(indexed.requests, indexes),
            evidence.picked(indexed.loop_places, indexes),
            strict=True,
        )
        for (request, place), group in evidence.grouped(list(request_places), indexes).items():
            groups[(request, origin, place)] = group
    in_database = evidence.database_seconds(report)
    classes: dict[str, Optional[relationships.ColumnFacts]] = {}
    findings = []
    for indexes in sorted(groups.values(), key=lambda group: group[0]):
        if len(indexes) < thresholds.column_load_threshold:
            continue
        origin = statements[indexes[0]].origin
        owner = origin[len(_PREFIX) :] or "an entity"
        first = statements[indexes[0]]
        selected = sqltext.selected_columns(first.sql)
        if owner not in classes:
            classes[owner] = relationships.columns_of(owner)
        facts = classes[owner]
        mapped_deferred = bool(facts and selected and set(selected) <= set(facts.deferred))
        with_key = bool(set(selected) & set(facts.primary_key)) if facts else len(selected) > 1
        is_deferred = mapped_deferred or not with_key
        rewrite, query_site = None, None
        spent = evidence.seconds(report, indexes)
        where = sites.where(report, sites.site(report, first))
        within = f" within request `{first.request}`" if first.request else ""
        columns = ", ".join(f"`{c}`" for c in selected) or "its columns"
        if is_deferred:
            keys = [key for key in (facts.key_of(column) for column in selected) if key] if facts else []
            named = keys if keys and len(keys) == len(selected) else list(selected)
            attributes = ", ".join(f"`{owner}.{key}`" for key in named)
            cause = f"the deferred attribute{'s' if len(named) > 1 else ''} {attributes}"
            how = (
                "mapped with `deferred()`"
                if mapped_deferred
                else "left out by the query's loader options (`defer()`, `load_only()`) or expired "
                "one by one (`expire(obj, [...])`)"
            )
            cause += f", {how},"
            fix = (
                f"Load {columns} with the objects: `.options(undefer({owner}.{named[0]}))` on the query "
                f"that loads the `{owner}` objects, or name it in that query's `load_only(...)`"
                + (" (or map it without `deferred()`)." if mapped_deferred else ".")
            )
            title = f"Deferred {owner}.{named[0]} loaded one object at a time"
            found = sites.loading_query(report, source, owner, indexes[0]) if named is keys else None
            parsed = found[0].parsed if found is not None else None
            if found is not None and parsed is not None and _undefer_fits(parsed, found[1], mapped_deferred):
                code, chain = found
                rewrite = deferred(_rewrite, parsed, chain, owner, keys)
                query_site = code.site(parsed.line(chain.start))
        else:
            cause = f"the expired attributes of `{owner}` ({columns})"
            fix = (
                f"The `{owner}` objects were expired (a `commit()` expires everything it saved while "
                "`expire_on_commit=True`, the default, and `expire()`/`refresh()` do too) and then read: "
                "create the session with `expire_on_commit=False`, or read the attributes before the "
                "commit."
            )
            title = f"Expired {owner} objects loaded again one at a time"
        findings.append(
            Finding(
                rule=RULE,
                severity="high" if len(indexes) >= 5 * thresholds.column_load_threshold else "medium",
                title=title,
                message=(
                    f"{len(statements)} statements, {len(indexes)} of them `{origin}`: {cause} loaded by "
                    f"primary key one object at a time from {where}{within}, {evidence.ms(spent)} of "
                    f"{evidence.ms(in_database)} in the database, "
                    f"{evidence.share_words(spent, report.wall_s)} of the profiled time."
                ),
                lines=evidence.lines_of(report, indexes),
                statements=tuple(indexes),
                sites=sites.sites(report, indexes, also=[query_site] if query_site is not None else []),
                fix=fix,
                rewrite=rewrite,
                seconds=spent,
                share=spent / report.wall_s if report.wall_s else None,
            )
        )
    return findings


def _rewrite(cell: Cell, chain: QueryChain, owner: str, keys: list[str]) -> Optional[Rewrite]:
    from sqla_magic.analysis.rewrite import with_loader_options

    names = ", ".join(f"{owner}.{key}" for key in keys)
    return with_loader_options(
        cell, chain, "undefer", keys, explanation=f"load `{names}` with the `{owner}` objects (`undefer`)"
    )


def _undefer_fits(cell: Cell, chain: QueryChain, mapped_deferred: bool) -> bool:
    """Whether `undefer` on this query loads the columns: it does where the mapping defers
    them or the query's `load_only` leaves them out; not beside a `defer()` of its own
    (SQLAlchemy 2 refuses the conflict, 1.4 keeps the defer) nor where no option of the
    query explains the loads (the attributes were expired one by one)."""
    options = cell.code(chain.outer)
    return "defer(" not in options and (mapped_deferred or "load_only(" in options)
