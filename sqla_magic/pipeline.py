"""The one place that knows the order: capture → rules → EXPLAIN → plan rules → privacy.

Each step after capture is optional and never fatal: a step that fails leaves a note in
the report saying what is missing and why, and the steps after it still run.  A rule that
raises costs only its own findings (the note names it).  EXPLAIN runs after capture has
stopped, on its own connection, so its statements are never part of the report.
"""

from __future__ import annotations

import collections
import operator
import sys
from collections.abc import Iterable
from dataclasses import fields, replace
from typing import Any, Optional

from sqla_magic import _compat
from sqla_magic.capture import run as capture
from sqla_magic.capture.params import safe_text
from sqla_magic.capture.run import Options, Recording, cell_error, sync_engines
from sqla_magic.model import Finding, Plan, Report, collector_paused, release_columns
from sqla_magic.privacy import PASSWORD_KEYS, without_passwords

__all__ = [
    "Options",
    "PendingReport",
    "Profiler",
    "Recording",
    "finish",
    "keep_reports",
    "last_report",
    "profile",
    "remember",
    "sync_engines",
]


class Profiler(capture.Profiler):
    """Capture around code that is not one Python block (a notebook cell), then `finish`."""

    def stop(self, error: Optional[BaseException] = None) -> Recording:
        """Stop capture and build the whole report: findings, plans, passwords masked."""
        recording = super().stop(error)
        recording.report = finish(recording, self.options)
        return recording


def finish(recording: Recording, options: Options) -> Report:
    """The captured run's report with findings and plans added and passwords masked."""
    report = recording.report
    notes = list(report.notes)
    findings: tuple[Finding, ...] = ()
    plans: tuple[Plan, ...] = ()
    if options.findings:
        try:
            from sqla_magic.analysis import RULES, run_rules

            with collector_paused():
                found, failures = run_rules(RULES, report, options.thresholds)
            findings = tuple(found)
            notes.extend(failures)
        except Exception as problem:  # the rules could not even be loaded
            notes.append(f"findings not computed: {type(problem).__name__}: {problem}")
    if options.explain and report.statements:
        try:
            from sqla_magic.explain import explain_report

            plans = tuple(
                explain_report(
                    replace(report, findings=findings),
                    recording.records,
                    analyze=options.explain_analyze,
                )
            )
        except KeyboardInterrupt:  # Ctrl-C stops EXPLAIN, not the report
            notes.append("EXPLAIN interrupted (Ctrl-C): the report has no plans")
        except Exception as problem:
            notes.append(f"EXPLAIN not run: {type(problem).__name__}: {problem}")
    if plans and options.findings:
        try:
            from sqla_magic.analysis import PLAN_RULES, run_rules

            with_plans = replace(report, plans=plans, findings=findings)
            with collector_paused():
                found, failures = run_rules(PLAN_RULES, with_plans, options.thresholds)
            findings += tuple(found)
            notes.extend(failures)
        except Exception as problem:
            notes.append(f"plan findings not computed: {type(problem).__name__}: {problem}")
    report = replace(report, findings=findings, plans=plans, notes=tuple(notes))
    # Engines are told apart by identity (they define no equality): each one once.
    engines = dict.fromkeys(map(_ENGINE, recording.records))
    engines.update(dict.fromkeys(options.engines or ()))
    passwords = set(recording.passwords)
    for engine in engines:
        arguments = _compat.connect_args(engine)
        passwords.update(str(arguments[key]) for key in PASSWORD_KEYS if arguments.get(key))
    with collector_paused():
        masked: Report = without_passwords(report, engines, passwords)
    release_columns(masked.statements)
    return masked


_ENGINE = operator.attrgetter("engine")


# -- the latest reports --------------------------------------------------------------------

_history: collections.deque[Report] = collections.deque(maxlen=10)


def remember(report: Report) -> None:
    """Keep `report` as the latest (only the last few are held, to bound memory)."""
    _history.append(report)


def last_report() -> Optional[Report]:
    """The latest report of this process (from the magic or `profile()`), or None."""
    return _history[-1] if _history else None


def keep_reports(count: int) -> None:
    """How many past reports to hold (default 10)."""
    global _history
    _history = collections.deque(_history, maxlen=max(count, 1))


# -- profile() -----------------------------------------------------------------------------

_REPORT_FIELDS = frozenset(f.name for f in fields(Report))


class PendingReport(Report):
    """The `as` target of `profile()`: a Report whose values arrive when the block ends.

    The block needs its target before there is anything to report, and a frozen Report
    cannot be filled in later; this one reads every field from the report it stands for,
    empty inside the block, the finished one after it.  Copies (`dataclasses.replace`,
    pickling) are plain Reports.
    """

    _stands_for: Report

    def __new__(cls, *args: Any, **kwargs: Any) -> Report:  # type: ignore[misc]
        return Report(*args, **kwargs)  # what `dataclasses.replace` builds from one

    @classmethod
    def empty(cls) -> PendingReport:
        pending = object.__new__(cls)
        pending.finished(Report(wall_s=0.0, cpu_s=0.0))
        return pending

    def finished(self, report: Report) -> None:
        """From now on, stand for `report`."""
        self._stands_for = report  # not a field name, so the frozen check lets it through

    def __getattribute__(self, name: str) -> Any:
        if name in _REPORT_FIELDS:
            return getattr(object.__getattribute__(self, "_stands_for"), name)
        return object.__getattribute__(self, name)

    def __eq__(self, other: object) -> bool:
        mine = self._stands_for
        return mine == (other._stands_for if isinstance(other, PendingReport) else other)

    def __hash__(self) -> int:
        return hash(self._stands_for)

    def __reduce__(self) -> Any:
        return self._stands_for.__reduce__()


class profile:  # noqa: N801 - used as `with profile() as report:`, like a function
    """Profile a block of SQLAlchemy code: `with profile() as report: ...`.

    The `as` target is a `Report` that is empty inside the block and complete once the
    block ends (also when it raises; the exception is not swallowed).
    """

    def __init__(
        self,
        *,
        memory: bool = True,
        allocations: bool = False,
        memory_lines: bool = False,
        call_tree: bool = True,
        explain: bool = True,
        explain_analyze: bool = False,
        findings: bool = True,
        engine: Any = None,
        max_statements: int = 20_000,
        filename: Optional[str] = None,
        source: str = "",
        user_packages: Iterable[str] = (),
    ) -> None:
        engines = (
            None if engine is None else tuple(engine) if isinstance(engine, (list, tuple)) else (engine,)
        )
        self.options = Options(
            memory=memory,
            allocations=allocations,
            memory_lines=memory_lines,
            call_tree=call_tree,
            explain=explain,
            explain_analyze=explain_analyze,
            findings=findings,
            engines=sync_engines(engines),
            max_statements=max_statements,
            user_packages=tuple(user_packages),
        )
        self._filename = filename
        self._source = source
        self._profiler: Optional[Profiler] = None
        self.report: Optional[PendingReport] = None

    def __enter__(self) -> Report:
        caller = sys._getframe(1)
        filename = self._filename or caller.f_code.co_filename
        self._profiler = Profiler(self.options, (filename,), self._source)
        self.report = PendingReport.empty()
        self._profiler.start(running_frame=caller)
        return self.report

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        assert self._profiler is not None and self.report is not None
        try:
            built = self._profiler.stop(exc).report
        except Exception as problem:
            if exc is None:
                raise
            # The block's own exception is what the caller must see, not ours.
            note = f"report not built: {type(problem).__name__}: {safe_text(problem)}"
            built = Report(wall_s=0.0, cpu_s=0.0, error=cell_error(exc, frozenset()), notes=(note,))
        self.report.finished(built)
        remember(self.report)
