"""Statement budgets for scripts, workers and tests: a fixed N+1 stays fixed.

    with budget(max_statements=5, max_per_shape=2, fail_on=("n-plus-one",)):
        ...

A budget run records statements only: no call tree, no memory, no EXPLAIN, and the rules
only when `fail_on` names some, so it costs little more than the statements it counts.
When the block ends over budget, `BudgetExceeded` carries the report and a text summary
(the count, the offending shape and where in the code it ran).  An exception of the
block itself wins over the budget: it is what the caller must see.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

from sqla_magic.model import Finding, Report

Function = TypeVar("Function", bound=Callable[..., Any])


@dataclass(frozen=True)
class Violation:
    """One way a run went over its budget."""

    kind: str
    """`statements`, `shape` or `rule`."""
    message: str
    statement: Optional[int] = None
    """Index into `Report.statements` of an execution of the offending shape."""
    finding: Optional[Finding] = None


@dataclass(frozen=True)
class Limits:
    """What a run may do: at most this many statements, executions of one shape, and no
    finding of these rules.  `None` / empty means no limit."""

    max_statements: Optional[int] = None
    max_per_shape: Optional[int] = None
    fail_on: tuple[str, ...] = ()

    def violations(self, report: Report) -> list[Violation]:
        found = []
        count = len(report.statements) + report.dropped_statements
        if self.max_statements is not None and count > self.max_statements:
            message = f"{count} statements (budget: {self.max_statements}); the most run shape:"
            found.append(Violation("statements", message, statement=_busiest(report)))
        if self.max_per_shape is not None:
            shapes = Counter(s.fingerprint for s in report.statements)
            for fingerprint, runs in shapes.most_common():
                if runs <= self.max_per_shape:
                    break
                first = next(i for i, s in enumerate(report.statements) if s.fingerprint == fingerprint)
                message = f"one statement shape ran {runs} times (budget: {self.max_per_shape} per shape)"
                found.append(Violation("shape", message, statement=first))
        for finding in report.findings:
            if finding.rule in self.fail_on:
                found.append(Violation("rule", f"{finding.rule}: {finding.title}", finding=finding))
        return found


def _busiest(report: Report) -> Optional[int]:
    """Index of the first execution of the shape run most often."""
    shapes = Counter(s.fingerprint for s in report.statements)
    if not shapes:
        return None
    fingerprint = shapes.most_common(1)[0][0]
    return next(i for i, s in enumerate(report.statements) if s.fingerprint == fingerprint)


class BudgetExceeded(Exception):  # noqa: N818 - the contract's name
    """Raised when profiled code goes over its `budget`; `str()` is the text summary."""

    def __init__(self, summary: str, report: Report, violations: Iterable[Violation]) -> None:
        super().__init__(summary)
        self.report = report
        self.violations = tuple(violations)


def check(report: Report, limits: Limits) -> None:
    """Raise `BudgetExceeded` if `report` is over `limits`."""
    __tracebackhide__ = True  # pytest shows the test's line, not these frames
    violations = limits.violations(report)
    if violations:
        from sqla_magic.render.budget import render_budget_text

        raise BudgetExceeded(render_budget_text(report, violations), report, violations)


def recording(filename: str, rules: tuple[str, ...] = (), engine: Any = None) -> Any:
    """A `profile` (not yet entered) of statements only, and of findings if rules can fail
    the run; `filename` is the code whose lines the statements are attributed to."""
    from sqla_magic.pipeline import profile

    return profile(
        memory=False,
        call_tree=False,
        explain=False,
        findings=bool(rules),
        engine=engine,
        filename=filename,
    )


class budget:  # noqa: N801 - a context manager and decorator, used like a function
    """Fail when the code inside uses more statements than it should.

    As a context manager (`with` / `async with`) the `as` target is the run's `Report`,
    filled when the block ends; as a decorator it wraps sync and async functions alike.
    `rules` is another name for `fail_on`.
    """

    def __init__(
        self,
        *,
        max_statements: Optional[int] = None,
        max_per_shape: Optional[int] = None,
        fail_on: Iterable[str] = (),
        rules: Iterable[str] = (),
        engine: Any = None,
    ) -> None:
        self.limits = Limits(max_statements, max_per_shape, tuple(fail_on) + tuple(rules))
        self.engine = engine
        self._runs: list[Any] = []

    # -- context manager -------------------------------------------------------------------

    def __enter__(self) -> Report:
        self._runs.append(self._start(sys._getframe(1).f_code.co_filename))
        return self._runs[-1].report  # type: ignore[no-any-return]

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        __tracebackhide__ = True
        self._stop(self._runs.pop(), exc)

    async def __aenter__(self) -> Report:
        self._runs.append(self._start(sys._getframe(1).f_code.co_filename))
        return self._runs[-1].report  # type: ignore[no-any-return]

    async def __aexit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        __tracebackhide__ = True
        self._stop(self._runs.pop(), exc)

    def _start(self, filename: str) -> Any:
        run = recording(filename, self.limits.fail_on, self.engine)
        run.__enter__()
        return run

    def _stop(self, run: Any, exc: Optional[BaseException]) -> None:
        __tracebackhide__ = True
        run.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
        if exc is None:
            check(run.report, self.limits)

    # -- decorator -------------------------------------------------------------------------

    def __call__(self, function: Function) -> Function:
        filename = function.__code__.co_filename
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                __tracebackhide__ = True
                started = self._start(filename)
                try:
                    result = await function(*args, **kwargs)
                except BaseException as problem:
                    self._stop(started, problem)
                    raise
                self._stop(started, None)
                return result

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            started = self._start(filename)
            try:
                result = function(*args, **kwargs)
            except BaseException as problem:
                self._stop(started, problem)
                raise
            self._stop(started, None)
            return result

        return run  # type: ignore[return-value]
