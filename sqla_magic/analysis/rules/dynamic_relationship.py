"""dynamic-relationship: a `lazy="dynamic"` relationship queried once per parent row.

Evidence: at least `dynamic_relationship_threshold` `query` statements of one shape run
from one place of the user's code (a cell line, or a module's by the statements' stack)
reading the target table of a relationship mapped with `lazy="dynamic"`; where the
source of that place can be read, its `<row>.<attr>` names which relationship (a
compiled-only module still gets the finding, from the tables alone).  (Dynamic
relationships run a query on every access, so they are not lazy loads and `n-plus-one`
does not see them.)  The fix is in the model:
`lazy="write_only"` (2.0) or `lazy="selectin"` with `selectinload` to load all
collections at once; or `with_parent()` queries.
"""

from __future__ import annotations

import re

from sqla_magic import sqltext
from sqla_magic.analysis import evidence, relationships, sites
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Site

RULE = "dynamic-relationship"


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    indexed = evidence.index(report)
    queries = indexed.of_origin("query")
    frames = evidence.picked(indexed.frames, queries)
    # Frames by value, each read once: a few frame objects stand for many statements.
    objects = dict(zip(map(id, frames), frames, strict=True))
    first_of_value: dict[Site, Site] = {}
    canonical = {
        ident: id(first_of_value.setdefault(frame, frame)) if frame is not None else None
        for ident, frame in objects.items()
    }
    keys = zip(
        evidence.picked(indexed.column("fingerprint"), queries),
        map(canonical.__getitem__, map(id, frames)),
        strict=True,
    )
    by_id = {id(frame): frame for frame in first_of_value.values()}
    groups = {
        (fingerprint, by_id[ident]): group
        for (fingerprint, ident), group in evidence.grouped(list(keys), queries).items()
        if ident is not None
    }
    repeated = {k: v for k, v in groups.items() if len(v) >= thresholds.dynamic_relationship_threshold}
    if not repeated:
        return []
    dynamic = [r for r in relationships.all_relationships() if r.lazy == "dynamic"]
    if not dynamic:
        return []
    import libcst as cst

    findings = []
    for key, indexes in repeated.items():
        place = key[1]
        assert isinstance(place, Site)
        from_list = sqltext.from_clause(report.statements[indexes[0]].sql)[0] or ""
        candidates = [r for r in dynamic if re.search(rf"\b{re.escape(r.target_table)}\b", from_list)]
        if not candidates:
            continue
        line = place.line
        code = sites.code_at(report, source, place).parsed
        if code is not None:  # the source, where it can be read, says which relationship it was
            read = {
                node.attr.value
                for node in code.on_line(line, cst.Attribute)
                if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name)
            }
            candidates = [r for r in candidates if r.key in read]
        else:
            candidates = candidates[:1]
        for facts in candidates:
            attribute = facts.key
            findings.append(
                Finding(
                    rule=RULE,
                    severity="high"
                    if len(indexes) >= 5 * thresholds.dynamic_relationship_threshold
                    else "medium",
                    title=f"Dynamic relationship {facts.owner}.{attribute} queried per row",
                    message=(
                        f"{len(report.statements)} statements, {len(indexes)} of them the query behind "
                        f'`{facts.owner}.{attribute}` (`lazy="dynamic"`) from {sites.where(report, place)}, '
                        f"{evidence.ms(evidence.seconds(report, indexes))} of "
                        f"{evidence.ms(evidence.database_seconds(report))} in the database: a dynamic "
                        "relationship runs a new query at every access and cannot be eager-loaded."
                    ),
                    lines=(line,) if sites.in_cell(report, place) else evidence.lines_of(report, indexes),
                    sites=sites.sites(report, indexes),
                    statements=tuple(indexes),
                    fix=(
                        f'In the model: `{attribute} = relationship(..., lazy="selectin")` (or keep the '
                        f"default and add `.options(selectinload({facts.owner}.{attribute}))` to the parent "
                        f'query), or `lazy="write_only"` with explicit `select(...).where(with_parent(...))` '
                        "queries for the rows really needed; aggregate per parent with one GROUP BY query."
                    ),
                )
            )
    return findings
