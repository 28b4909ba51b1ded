"""repeated-flush: `commit()` / `flush()` inside a loop, one transaction round per iteration.

Evidence: flush statements (origin `flush`) caused from one place of the user's code (a
cell line, or a module's line by the statements' stack) that is a `.commit()` or
`.flush()` call inside a loop: at least `repeated_flush_threshold` flushes
(`Statement.flush_index`), all of one `Session` (`Statement.session_index`: a loop that opens
a session per row cannot share one commit), carrying fewer than `repeated_flush_chunk_rows`
rows each (more per flush is deliberate chunking, to bound memory).

Rewrite, only where moving the call keeps every row and value: the call is the last
statement of the loop's own body (nothing in the loop reads what the flush gives, such as
generated keys), and the body has no `try`, `return`, `raise`, `yield` or `rollback()`
(a failure then loses only its own row in the original).  The call moves after the loop,
so one flush sends every change and one COMMIT ends the transaction.  Otherwise the
finding is advice without a rewrite.
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
    flushed = evidence.index(report).of_origin("flush")
    if not flushed:
        return []
    by_place = evidence.grouped(evidence.picked(evidence.index(report).frame_places, flushed), flushed)
    by_place.pop(None, None)
    candidates = {
        place: (indexes, flushes)
        for place, indexes in by_place.items()
        if (flushes := _repeated_flushes(report, indexes, thresholds)) is not None
    }
    if not candidates:
        return []
    from sqla_magic.analysis.rewrite import method_call

    findings = []
    for place, (indexes, flushes) in candidates.items():
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
        safe = _moving_keeps_every_row(cell, call, loops[0])
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
                    f"{loop_where}: {flushes} {'flush' if flushes == 1 else 'flushes'} "
                    f"{'and COMMITs ' if name == 'commit' else ''}of one session sent "
                    f"{len(indexes)} statements "
                    f"({evidence.ms(evidence.seconds(report, indexes))} in the database). One call after the "
                    "loop sends the same changes in batches."
                ),
                lines=(cell.line(loops[0]), line) if code.is_cell else evidence.lines_of(report, indexes),
                sites=sites.sites(report, indexes, also=[loop_site]),
                statements=tuple(indexes),
                rewrite=deferred(_rewrite, cell, call, loops[0]) if safe else None,
                fix=None
                if safe
                else f"Call `{name}()` once after the loop, if nothing in the loop needs each row "
                "flushed (generated keys, a failure that must lose only its own row).",
            )
        )
    return findings


def _repeated_flushes(report: Report, indexes: list[int], thresholds: Thresholds) -> Optional[int]:
    """How many flushes of one session `indexes` came from, if they are worth a finding."""
    indexed = evidence.index(report)
    sessions = set(evidence.picked(indexed.column("session_index"), indexes)) - {None}
    if len(sessions) > 1:
        return None  # a session per iteration: one commit after the loop would not hold them
    flushes = len(set(evidence.picked(indexed.column("flush_index"), indexes)) - {None})
    if not flushes:  # a report from before flushes were told apart: count statements
        return len(indexes) if len(indexes) >= thresholds.repeated_flush_threshold else None
    if flushes < thresholds.repeated_flush_threshold:
        return None
    if evidence.rows_written(report, indexes) >= flushes * thresholds.repeated_flush_chunk_rows:
        return None  # deliberate chunks
    return flushes


def _moving_keeps_every_row(cell: Cell, call: cst.Call, loop: cst.CSTNode) -> bool:
    """The call is the loop body's last statement, and nothing in the body can leave the loop
    early or handle a failed row (see the module docstring)."""
    import libcst as cst

    from sqla_magic.analysis.rewrite import loop_body_statements, method_call

    if not isinstance(loop, cst.For):
        return False
    body = loop_body_statements(loop)
    if not body or body[-1] is not cell.statement_of(call):
        return False
    found: list[bool] = []

    class Risky(cst.CSTVisitor):
        def visit_Try(self, node: cst.Try) -> None:  # noqa: N802
            found.append(True)

        def visit_Return(self, node: cst.Return) -> None:  # noqa: N802
            found.append(True)

        def visit_Raise(self, node: cst.Raise) -> None:  # noqa: N802
            found.append(True)

        def visit_Yield(self, node: cst.Yield) -> None:  # noqa: N802
            found.append(True)

        def visit_Call(self, node: cst.Call) -> None:  # noqa: N802
            called = method_call(node)
            if called is not None and called[1] in ("rollback", "commit", "flush") and node is not call:
                found.append(True)

    loop.body.visit(Risky())
    return not found


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
