"""orm-cascade-delete: the ORM loads and deletes child rows one by one for a parent delete.

Evidence: in the flushed DELETEs, child rows of one table (at least
`orm_cascade_delete_threshold` of them) deleted together with rows of another table, and a
relationship with `cascade="all, delete"` onto that child table without `passive_deletes`
(or, when the mappers cannot be read, the children's lazy loads from the delete lines).
The fix lives in the model: `passive_deletes=True` on the relationship and
`ondelete="CASCADE"` on the foreign key let the database delete the children.
"""

from __future__ import annotations

from sqla_magic.analysis import evidence, relationships, sites
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Site

RULE = "orm-cascade-delete"


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    indexed = evidence.index(report)
    flushed = indexed.of_origin("flush")
    sql = evidence.picked(indexed.column("sql"), flushed)
    table_of = {
        text: evidence.dml_table_of(text) if evidence.sql_verb(text) == "DELETE" else None
        for text in dict.fromkeys(sql)
    }
    deletes = evidence.grouped(list(map(table_of.__getitem__, sql)), flushed)
    deletes.pop(None, None)
    if len(deletes) < 2:
        return []
    known = relationships.all_relationships()
    findings = []
    for table, indexes in deletes.items():
        # One DELETE per flush (autoflush splits a loop of deletes): the rows add up.
        rows = sum(evidence.picked(indexed.column("param_sets"), indexes))
        if rows < thresholds.orm_cascade_delete_threshold:
            continue
        cascades = [
            r for r in known if r.target_table == table and r.cascade_delete and not r.passive_deletes
        ]
        parents = [r for r in cascades if r.table in deletes]
        if known and not parents:
            continue
        by_origin = evidence.index(report).of_origin
        loads = sorted({i for r in parents for i in by_origin(f"lazy load {r.owner}.{r.key}")})
        involved = sorted({*indexes, *loads})
        name = f"{parents[0].owner}.{parents[0].key}" if parents else f"the relationship onto {table}"
        findings.append(
            Finding(
                rule=RULE,
                severity="medium",
                title=f"ORM cascade deletes {rows} {table} rows one by one",
                message=(
                    f"Deleting from {', '.join(sorted({str(r.table) for r in parents}) or ['the parents'])} "
                    "made the ORM "
                    f"{'load the children (' + str(len(loads)) + ' SELECTs) and ' if loads else ''}delete "
                    f"{rows} `{table}` rows itself from "
                    f"{sites.where_all(report, _deleting(report, indexes))} "
                    f"({evidence.ms(evidence.seconds(report, involved))} in the "
                    f"database) through {name}'s cascade. The database can delete them in the same statement "
                    "as the parent."
                ),
                lines=evidence.lines_of(report, involved),
                sites=sites.sites(report, involved),
                statements=tuple(involved),
                fix=(
                    f'In the model: `{name} = relationship(..., cascade="all, delete-orphan", '
                    f"passive_deletes=True)` and on `{table}`'s foreign key "
                    f'`ForeignKey(..., ondelete="CASCADE")` (plus the matching '
                    "`ON DELETE CASCADE` in the database schema; SQLite needs `PRAGMA foreign_keys=ON`)."
                ),
            )
        )
    return findings


def _deleting(report: Report, indexes: list[int]) -> list[Site]:
    return [p for i in indexes[:1] if (p := sites.site(report, report.statements[i])) is not None]
