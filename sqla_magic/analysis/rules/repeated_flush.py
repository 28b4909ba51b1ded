"""repeated-flush: `commit()` / `flush()` inside a loop, one transaction round per iteration.

Evidence: flush statements (origin `flush`) caused from one place of the user's code (a
cell line, or a module's line by the statements' stack) that is a `.commit()` or
`.flush()` call inside a loop, at least `repeated_flush_threshold` of them.
Rewrite, when the call is a statement of the loop's own body: the call moves after the
loop, so one flush sends every change and one COMMIT ends the transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.sources import deferred
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report, Rewrite, Site

if TYPE_CHECKING:
    import libcst as cst

    from sqla_magic.analysis.rewrite import Cell

RULE = "repeated-flush"


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    by_place = evidence.by_key(
        report, lambda s: sites.key(report, s), evidence.index(report).of_origin("flush")
    )
    candidates = {place: i for place, i in by_place.items() if len(i) >= thresholds.repeated_flush_threshold}
    if not candidates:
        return []
    from sqla_magic.analysis.rewrite import method_call

    findings = []
    for place, indexes in candidates.items():
        assert isinstance(place, tuple)
        _file, line = place
        frame = sites.site(report, report.statements[indexes[0]])
        assert frame is not None
        code = sites.code_at(report, source, frame)
        cell = code.parsed
        if cell is None:
            if not code.is_cell:  # a module without readable source: the finding without a rewrite
                findings.append(_unread(report, frame, indexes))
            continue
        call = _flush_call(cell, line)
        if call is None:
            continue
        loops = cell.loops_around(call)
        if not loops:
            continue
        name = method_call(call)[1]  # type: ignore[index]
        loop_site = code.site(cell.line(loops[0]))
        if code.is_cell:
            where, loop_where = f"line {line}", f"line {loop_site.line}"
        else:
            where, loop_where = sites.where(report, frame), f"line {loop_site.line}"
        findings.append(
            Finding(
                rule=RULE,
                severity="medium",
                title=f"`{name}()` inside a loop",
                message=(
                    f"`{name}()` on {where} runs once per iteration of the loop on "
                    f"{loop_where}: {len(indexes)} statements were flushed from there, a flush "
                    f"{'and a COMMIT ' if name == 'commit' else ''}per iteration "
                    f"({evidence.ms(evidence.seconds(report, indexes))} in the database). One call after the "
                    "loop sends the same changes in batches."
                ),
                lines=(cell.line(loops[0]), line) if code.is_cell else evidence.lines_of(report, indexes),
                sites=sites.sites(report, indexes, also=[loop_site]),
                statements=tuple(indexes),
                rewrite=deferred(_rewrite, cell, call, loops[0]),
            )
        )
    return findings


def _unread(report: Report, frame: Site, indexes: list[int]) -> Finding:
    return Finding(
        rule=RULE,
        severity="medium",
        title="Flushes repeated from one place",
        message=(
            f"{len(indexes)} statements were flushed from {sites.where(report, frame)}, one flush after "
            f"another ({evidence.ms(evidence.seconds(report, indexes))} in the database); its source "
            "cannot be read, so whether one call after the loop would do is not shown."
        ),
        lines=evidence.lines_of(report, indexes),
        sites=sites.sites(report, indexes),
        statements=tuple(indexes),
    )


def _flush_call(cell: Cell, line: int) -> Optional[cst.Call]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import method_call

    for node in cell.on_line(line, cst.Call):
        called = method_call(node)
        if called is not None and called[1] in ("commit", "flush") and not called[2].args:
            assert isinstance(node, cst.Call)
            return node
    return None


def _rewrite(cell: Cell, call: cst.Call, loop: cst.CSTNode) -> Optional[Rewrite]:
    import libcst as cst

    from sqla_magic.analysis.rewrite import loop_body_statements

    if not isinstance(loop, cst.For) or not isinstance(loop.body, cst.IndentedBlock):
        return None
    statement = cell.statement_of(call)
    body = loop_body_statements(loop)
    if statement not in body or len(body) < 2:
        return None
    assert isinstance(statement, cst.SimpleStatementLine)
    if len(statement.body) != 1 or not isinstance(statement.body[0], cst.Expr):
        return None
    new_loop = loop.with_changes(body=loop.body.with_changes(body=[s for s in body if s is not statement]))
    after = statement.with_changes(leading_lines=())
    return cell.rewrite(
        {loop: cst.FlattenSentinel([new_loop, after])},
        explanation=f"one `{cell.code(call.func)}()` after the loop",
    )
