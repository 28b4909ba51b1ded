"""IPython glue: `%%sqlprofile` / `%sqlprofile` → `Profiler` → display.

How a cell is run: an input transformer (in `input_transformers_cleanup`, which runs
before IPython looks for cell magics) turns the first line `%%sqlprofile OPTIONS` into a
call that starts the profiler, keeping the line count, and a `post_run_cell` hook stops
it and shows the report.  The cell itself is left to IPython, so top-level `await`, the
cell's file name in tracebacks, `Out[]`, `_` and the cell's error status behave as
without the magic.  (Running the cell through a nested `run_cell`, as other profiling
magics do, breaks `await` and reports a failed cell as a success.)  The registered
`%%sqlprofile` magic serves direct calls (`run_cell_magic`) and `%sqlprofile?` help.
"""

from __future__ import annotations

import ast
import linecache
import sys
from typing import TYPE_CHECKING, Any, Optional

from IPython.core.error import UsageError
from IPython.core.magic import cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import parse_argstring

from sqla_magic.magic import options
from sqla_magic.magic.settings import Settings, loaded_settings, threshold_traits
from sqla_magic.model import Report

if TYPE_CHECKING:
    from sqla_magic.pipeline import Options, Profiler

_PREFIX = "%%sqlprofile"
_START_CALL = "__import__('sqla_magic').magic.start_cell({args!r})\n"


class _SqlProfileMagics(Settings):
    @options.arguments
    @line_magic("sqlprofile")
    @cell_magic("sqlprofile")  # type: ignore[arg-type]
    def sqlprofile(self, line: str, cell: Optional[str] = None) -> Any:
        """Profile SQLAlchemy in a cell (`%%sqlprofile`) or one statement (`%sqlprofile`).

        Shows where the time went (database, fetch, compile, ORM loading, mapper
        configuration, Python), every SQL statement, the call tree, memory, EXPLAIN
        plans and findings with rewrites.
        """
        args, run_options = _parse(self.shell, line, self, cell_magic=cell is not None)
        if cell is None:
            code = " ".join(args.statement)
            if not code.strip():
                raise UsageError("%sqlprofile needs a statement; use %%sqlprofile for a whole cell")
            return _run_source(self.shell, args, run_options, code, first_line=1)
        return _run_source(self.shell, args, run_options, cell, first_line=2)


SqlProfile = magics_class(type("SqlProfile", (_SqlProfileMagics,), threshold_traits()))
"""The `%%sqlprofile` magics; configure the rules with `%config SqlProfile.<threshold> = value`."""


def _parse(shell: Any, line: str, settings: Any, cell_magic: bool) -> tuple[Any, Options]:
    """The options of `line`, the configured settings, and what the pipeline is told."""
    args = options.checked(parse_argstring(_SqlProfileMagics.sqlprofile, line))
    args.thresholds = settings.thresholds() if settings is not None else None
    args.user_packages = tuple(settings.user_packages) if settings is not None else ()
    args.allocations = args.allocations or (settings is not None and settings.allocations)
    if cell_magic and args.statement:
        raise UsageError(f"unexpected arguments for %%sqlprofile: {' '.join(args.statement)}")
    run_options = options.pipeline_options(shell, args)
    args.baseline = options.baseline(shell, args)
    return args, run_options


# -- the cell path: transformer + post_run_cell ----------------------------------------


class _CellRun:
    """The profile of the cell being run, between `start_cell` and `post_run_cell`."""

    def __init__(self, shell: Any, args: Any, profiler: Profiler) -> None:
        self.shell = shell
        self.args = args
        self.profiler = profiler


_current: Optional[_CellRun] = None


def transform_cell(lines: list[str]) -> list[str]:
    """`%%sqlprofile OPTIONS` on the first line → a `start_cell` call, same line count."""
    if not lines or not lines[0].startswith(_PREFIX):
        return lines
    rest = lines[0][len(_PREFIX) :]
    if rest and not rest[0].isspace():
        return lines  # another magic whose name starts the same
    args = rest.strip()
    if args.endswith("?"):
        return lines  # `%%sqlprofile?`: IPython's help
    return [_START_CALL.format(args=args), *lines[1:]]


def start_cell(arg_string: str) -> None:
    """Called from the cell's rewritten first line: parse the options and start."""
    global _current
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("%%sqlprofile runs inside IPython")
    args, run_options = _parse(shell, arg_string, loaded_settings(shell), cell_magic=True)
    from sqla_magic.pipeline import Profiler

    stop_pending()  # a previous cell never reached post_run_cell
    filename = sys._getframe(1).f_code.co_filename
    # linecache holds the cell as compiled: put the magic line back as the user typed it.
    body = linecache.getlines(filename)[1:]
    source = f"{_PREFIX} {arg_string}".rstrip() + "\n" + "".join(body)
    profiler = Profiler(run_options, (filename,), source)
    _current = _CellRun(shell, args, profiler)
    profiler.start()


def stop_pending() -> None:
    """Stop the profile of a cell that never reached `post_run_cell` (interrupted, unloaded)."""
    global _current
    run, _current = _current, None
    if run is not None:
        run.profiler.stop()


def post_run_cell(result: Any) -> None:
    """Stop the cell's profile, if one started, and show its report."""
    global _current
    run, _current = _current, None
    if run is None:
        return
    error = getattr(result, "error_in_exec", None)
    try:
        report = run.profiler.stop(error).report
    except Exception as problem:  # capture is stopped; a traceback here would bury the cell's own
        print(
            f"sqlprofile: the report could not be built ({type(problem).__name__}: {problem})",
            file=sys.stderr,
        )
        return
    _finish(run.shell, run.args, report)


def _finish(shell: Any, args: Any, report: Report) -> None:
    from sqla_magic.magic.display import show
    from sqla_magic.pipeline import remember

    remember(report)
    if args.output:
        shell.user_ns[args.output] = report
    if args.save:
        try:
            report.save(args.save, redact=args.redact)
        except (OSError, ValueError) as problem:
            print(f"sqlprofile: could not save the report to {args.save}: {problem}", file=sys.stderr)
    if not args.quiet:
        show(report, shell, getattr(args, "baseline", None), names=(args.compare, "this run"))


# -- the direct path: run_cell_magic / line magic -----------------------------------------


def _run_source(shell: Any, args: Any, run_options: Options, source: str, first_line: int) -> Any:
    """Run code given to the magic itself, returning its last expression's value."""
    from sqla_magic.pipeline import Profiler

    padded = "\n" * (first_line - 1) + source
    filename = (
        shell.compile.cache(padded, shell.execution_count) if hasattr(shell, "compile") else "<sqlprofile>"
    )
    try:
        tree = ast.parse(padded, filename=filename)
    except SyntaxError as problem:
        raise UsageError(f"syntax error in the profiled code, line {problem.lineno}: {problem.msg}") from None
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    assert last is None or isinstance(last, ast.Expr)
    body = compile(tree, filename, "exec")
    tail = compile(ast.Expression(last.value), filename, "eval") if last is not None else None
    profiler = Profiler(run_options, (filename,), padded)
    profiler.start()
    error: Optional[BaseException] = None
    try:
        exec(body, shell.user_ns)
        return eval(tail, shell.user_ns) if tail is not None else None
    except BaseException as problem:
        error = problem
        raise
    finally:
        _finish(shell, args, profiler.stop(error).report)
