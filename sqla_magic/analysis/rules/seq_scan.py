"""seq-scan: EXPLAIN shows a full table scan filtered on a column without an index.

Evidence: plan warnings of kind `seq-scan` (from `sqla_magic.explain`), with their table,
filter columns and the planner's row estimate; estimates below `seq_scan_min_rows` are
ignored (unknown estimates, as on SQLite, are kept).  The fix is an index on the filtered
column(s), declared on the model.
"""

from __future__ import annotations

from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Site

RULE = "seq-scan"


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    findings = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for plan in report.plans:
        for warning in plan.warnings:
            if warning.kind != "seq-scan" or not warning.table:
                continue
            if warning.rows is not None and warning.rows < thresholds.seq_scan_min_rows:
                continue
            key = (warning.table, warning.columns)
            if key in seen:
                continue
            seen.add(key)
            same = evidence.index(report).by_fingerprint.get(plan.fingerprint, [])
            columns = ", ".join(warning.columns) or "the filtered column"
            estimate = f" (~{warning.rows:.0f} rows)" if warning.rows is not None else ""
            index_name = f"ix_{warning.table}_{'_'.join(warning.columns) or 'column'}"
            findings.append(
                Finding(
                    rule=RULE,
                    severity="medium",
                    title=f"Full scan of {warning.table} filtered on {columns}",
                    message=(
                        f"EXPLAIN{' ANALYZE' if plan.analyzed else ''} of the statement run "
                        f"{evidence.plural(len(same), 'time')} from "
                        f"{sites.where_all(report, _places(report, same))} "
                        f"({evidence.ms(evidence.seconds(report, same))} in all) reads all of "
                        f"`{warning.table}`{estimate} to filter on {columns}: {warning.message}"
                    ),
                    lines=evidence.lines_of(report, same),
                    sites=sites.sites(report, same),
                    statements=tuple(same),
                    fix=(
                        f"Add an index: `index=True` on the column(s) {columns} of the model mapped to "
                        f'`{warning.table}`, or `Index("{index_name}", {", ".join(warning.columns)})` in its '
                        f"`__table_args__`; in SQL: `CREATE INDEX {index_name} ON {warning.table} "
                        f"({', '.join(warning.columns)})`."
                    ),
                )
            )
    return findings


def _places(report: Report, indexes: list[int]) -> list[Site]:
    return list(
        dict.fromkeys(p for i in indexes if (p := sites.site(report, report.statements[i])) is not None)
    )
