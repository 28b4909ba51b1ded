"""The report as `pandas.DataFrame`s: one row per statement, or per statement shape.

pandas is an optional dependency (`pip install "sqla_magic[frames]"`); nothing else in
the package needs it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqla_magic.model import Report, Statement, statement_rows

NEEDS_PANDAS = 'needs pandas, which is not installed: pip install "sqla_magic[frames]" (or pandas)'


def _pandas(what: str) -> Any:
    try:
        import pandas
    except ImportError as problem:
        raise ImportError(f"{what} {NEEDS_PANDAS}") from problem
    return pandas


def statements_frame(report: Report) -> Any:
    """One row per statement, as a `pandas.DataFrame`."""
    pd = _pandas("statements_frame()")
    columns = [f.name for f in dataclasses.fields(Statement)]
    rows = [dataclasses.astuple(s) for s in report.statements]
    return pd.DataFrame(rows, columns=columns).rename_axis("index")


def groups_frame(report: Report) -> Any:
    """One row per fingerprint: count, total_s, mean_s, rows; slowest first."""
    pd = _pandas("groups_frame()")
    frame = statements_frame(report)
    columns = ["fingerprint", "count", "total_s", "mean_s", "max_s", "rows", "sql", "lines", "origins"]
    if frame.empty:
        return pd.DataFrame(columns=columns).set_index("fingerprint")
    frame["row_total"] = [statement_rows(s) for s in report.statements]
    grouped = frame.groupby("fingerprint", sort=False)
    groups = pd.DataFrame(
        {
            "count": grouped.size(),
            "total_s": grouped["duration_s"].sum(),
            "mean_s": grouped["duration_s"].mean(),
            "max_s": grouped["duration_s"].max(),
            "rows": grouped["row_total"].sum(),
            "sql": grouped["sql"].first(),
            "lines": grouped["line"].agg(lambda v: sorted({int(x) for x in v.dropna()})),
            "origins": grouped["origin"].agg(lambda v: sorted(set(v))),
        }
    )
    return groups.sort_values("total_s", ascending=False)


def findings_frame(report: Report) -> Any:
    """One row per finding: rule, severity, title, message, where (first site or line),
    how many statements, whether it has a rewrite."""
    pd = _pandas("findings_frame()")
    columns = ["rule", "severity", "title", "message", "lines", "file", "line", "statements", "rewrite"]
    rows = []
    for finding in report.findings:
        sites = finding.sites
        rows.append(
            [
                finding.rule,
                finding.severity,
                finding.title,
                finding.message,
                list(finding.lines),
                sites[0].file if sites else report.filename,
                sites[0].line if sites else (finding.lines[0] if finding.lines else None),
                len(finding.statements),
                finding.rewrite is not None,
            ]
        )
    return pd.DataFrame(rows, columns=columns).rename_axis("index")
