"""large-result: one statement's rows (or objects) all fetched and held at once.

Evidence: a SELECT that fetched at least `large_result_rows` rows and was not already
streamed (`Statement.streamed`: run with `yield_per` or `stream_results`).  Rewrite, when the
code that ran it (the cell, or a module by the statement's stack) loops directly over the
query: stream it in batches with `.yield_per(1000)` (a
`Query`) or `.execution_options(yield_per=1000)` (a `select()`), so only one batch of
rows and objects is held at a time.  Otherwise the finding says what to change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.sources import deferred
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite, Statement

if TYPE_CHECKING:
    from sqla_magic.analysis.rewrite import Cell, QueryChain

RULE = "large-result"


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    indexed = evidence.index(report)
    reading = indexed.of_verb("SELECT", "WITH")
    rows, streamed = indexed.column("rows"), indexed.column("streamed")
    least = thresholds.large_result_rows
    if least > 0 and max(filter(None, evidence.picked(rows, reading)), default=0) < least:
        return []
    large = [i for i in reading if (rows[i] or 0) >= least and not streamed[i]]
    if not large:
        return []
    findings = []
    for index in large:
        statement = report.statements[index]
        place = sites.site(report, statement)
        found = _chain_at(report, source, statement)
        objects = sum(report.objects_loaded.values())
        peak = report.memory.peak_bytes / 2**20 if report.memory is not None else None
        findings.append(
            Finding(
                rule=RULE,
                severity="medium",
                title=f"{statement.rows} rows fetched at once",
                message=(
                    f"{_capital(sites.where(report, place))} fetched {statement.rows} rows in one result"
                    f"{f' and built {objects} ORM objects in all' if objects else ''}"
                    f"{f'; peak memory grew {peak:.1f} MiB' if peak is not None else ''}. Streaming in "
                    "batches (`yield_per`) holds one batch at a time; selecting only the needed columns "
                    "or aggregating in SQL holds less."
                ),
                lines=(statement.line,) if statement.line is not None else (),
                sites=sites.sites(report, [index]),
                statements=(index,),
                rewrite=deferred(_rewrite, *found) if found is not None else None,
                fix=None
                if found is not None
                else "Iterate the result with `yield_per(1000)` / "
                "`execution_options(yield_per=1000)`, or select fewer columns or rows.",
            )
        )
    return findings


def _capital(words: str) -> str:
    return words[:1].upper() + words[1:]


def _chain_at(report: Report, source: str, statement: Statement) -> Optional[tuple[Cell, QueryChain]]:
    """The query looped over where the statement ran: its innermost frame in the user's code."""
    place = sites.site(report, statement)
    if place is None:
        return None
    cell = sites.code_at(report, source, place).parsed
    chain = _chain_on(cell, place.line) if cell is not None else None
    return (cell, chain) if cell is not None and chain is not None else None


def _chain_on(cell: Cell, line: Optional[int]) -> Optional[QueryChain]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import query_chains

    if line is None:
        return None
    for chain in query_chains(cell):
        first, last = cell.lines(chain.outer)
        parent = cell.parent(chain.outer)
        if first <= line <= last and isinstance(parent, cst.For) and parent.iter is chain.outer:
            if chain.kind == "select" and chain.runner is not None and not chain.result_methods:
                return chain
            if chain.kind != "select" and not {"all", "yield_per"} & set(chain.method_names):
                return chain
    return None


def _rewrite(cell: Cell, chain: QueryChain) -> Optional[Rewrite]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import chain_method, expr

    if chain.kind == "select":
        new = chain_method(
            chain.top, "execution_options", cst.Arg(expr("1000"), keyword=cst.Name("yield_per"))
        )
    else:
        new = chain_method(chain.top, "yield_per", cst.Arg(expr("1000")))
    return cell.rewrite({chain.top: new}, explanation="stream the rows in batches of 1000")
