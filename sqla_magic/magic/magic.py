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
import builtins
import dataclasses
import keyword
import linecache
import os
import sys
from typing import TYPE_CHECKING, Any, Optional

import traitlets
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Report

if TYPE_CHECKING:
    from sqla_magic.pipeline import Options, Profiler

_PREFIX = "%%sqlprofile"
_START_CALL = "__import__('sqla_magic').magic.start_cell({args!r})\n"


class _SqlProfileMagics(Magics):
    keep_reports = traitlets.Int(
        10, min=1, help="how many past reports to hold (sqla_magic.last_report() is the latest)"
    ).tag(config=True)

    user_packages = traitlets.List(
        traitlets.Unicode(),
        help="installed packages whose code counts as your own (where findings point, their rewrites)",
    ).tag(config=True)

    @traitlets.observe("keep_reports")
    def _keep_reports_changed(self, change: Any) -> None:
        from sqla_magic.pipeline import keep_reports

        keep_reports(change["new"])

    @magic_arguments()
    @argument("-o", dest="output", metavar="NAME", help="also store the Report in the user namespace as NAME")
    @argument("--no-memory", action="store_true", help="skip memory tracing")
    @argument("--memory-lines", action="store_true", help="per-line memory table for the cell (slower)")
    @argument("--no-explain", action="store_true", help="do not run EXPLAIN")
    @argument(
        "--explain-analyze",
        action="store_true",
        help="EXPLAIN ANALYZE read-only statements, inside a transaction that is rolled back",
    )
    @argument("--engine", metavar="EXPR", help="capture only this engine (evaluated in the user namespace)")
    @argument(
        "--save",
        metavar="PATH",
        help="write the report to PATH (.html, .json, .sarif findings, .csv statements)",
    )
    @argument(
        "--redact", action="store_true", help="with --save: replace parameter values with ? in the file"
    )
    @argument("--quiet", action="store_true", help="display nothing (the report is still stored)")
    @argument(
        "--compare", metavar="NAME", help="also show how this run differs from the report stored as NAME"
    )
    @argument("statement", nargs="*", help="the statement to profile (line magic)")
    @line_magic("sqlprofile")
    @cell_magic("sqlprofile")  # type: ignore[arg-type]
    def sqlprofile(self, line: str, cell: Optional[str] = None) -> Any:
        """Profile SQLAlchemy in a cell (`%%sqlprofile`) or one statement (`%sqlprofile`).

        Shows where the time went (database, fetch, compile, ORM loading, mapper
        configuration, Python), every SQL statement, the call tree, memory, EXPLAIN
        plans and findings with rewrites.
        """
        args = parse_options(line)
        args.thresholds = self.thresholds()
        args.user_packages = tuple(self.user_packages)
        if cell is None:
            code = " ".join(args.statement)
            if not code.strip():
                raise UsageError("%sqlprofile needs a statement; use %%sqlprofile for a whole cell")
            args.baseline = _baseline(self.shell, args)
            return _run_source(self.shell, args, code, first_line=1)
        if args.statement:
            raise UsageError(f"unexpected arguments for %%sqlprofile: {' '.join(args.statement)}")
        args.baseline = _baseline(self.shell, args)
        return _run_source(self.shell, args, cell, first_line=2)

    @magic_arguments()
    @argument("number", type=int, help="the finding's number, as on its card (#N)")
    @argument("--report", metavar="NAME", help="a report stored with -o NAME (default: the latest)")
    @argument("--write", action="store_true", help="for a rewrite of a module file: write the file")
    @line_magic("sqlprofile_apply")  # type: ignore[arg-type]
    def sqlprofile_apply(self, line: str) -> None:
        """Put finding N's rewritten cell into a new cell below this one; for a rewrite of
        a module file, show its diff (and write the file only with `--write`).

        For front ends where the report's Apply button cannot edit the notebook.  Safe
        here because this runs as an execute request; a widget button must not use
        `set_next_input` (its payload would land on whatever cell runs next).
        """
        from sqla_magic.pipeline import last_report
        from sqla_magic.render.view_model import rewrite_source
        from sqla_magic.render.widget import write_module

        args = parse_argstring(self.sqlprofile_apply, line)
        shell: Any = self.shell
        report = shell.user_ns.get(args.report) if args.report else last_report()
        if not isinstance(report, Report):
            missing = f"named {args.report}" if args.report else "yet"
            raise UsageError(f"no report {missing}: run %%sqlprofile first")
        try:
            source = rewrite_source(report, args.number)
        except ValueError as problem:
            raise UsageError(str(problem)) from None
        rewrite = report.findings[args.number - 1].rewrite
        if rewrite is None or rewrite.path is None:
            shell.set_next_input(source, replace=False)
        elif args.write:
            outcome = write_module(report, args.number - 1)
            if not outcome["ok"]:
                raise UsageError(outcome["message"])
            print(outcome["message"])
        else:
            print(rewrite.diff())
            print(f"This changes {rewrite.path}: `%sqlprofile_apply {args.number} --write` writes it.")

    @magic_arguments()
    @argument("number", type=int, help="the finding's number, as on its card (#N)")
    @argument("--report", metavar="NAME", help="the report with the finding (default: the latest)")
    @argument("--after", metavar="NAME", help="the report of the fixed cell (default: the latest)")
    @argument("--name", metavar="TEST_NAME", help="the test function's name")
    @argument("--file", metavar="PATH", help="write the test module to PATH rather than into a new cell")
    @line_magic("sqlprofile_test")  # type: ignore[arg-type]
    def sqlprofile_test(self, line: str) -> None:
        """Turn a fixed finding into a pytest test: the fixed cell under the budget it achieved."""
        from sqla_magic.pipeline import last_report
        from sqla_magic.render.test_code import finding_test_source

        args = parse_argstring(self.sqlprofile_test, line)
        shell: Any = self.shell
        reports = []
        for name in (args.report, args.after):
            report = shell.user_ns.get(name) if name else last_report()
            if not isinstance(report, Report):
                raise UsageError(f"no report {f'named {name}' if name else 'yet'}: run %%sqlprofile first")
            reports.append(report)
        try:
            code = finding_test_source(reports[0], args.number, reports[1], shell.user_ns, args.name)
        except ValueError as problem:
            raise UsageError(str(problem)) from None
        if args.file:
            with open(os.path.expanduser(args.file), "w", encoding="utf-8") as output:
                output.write(code)
            print(f"wrote {args.file}")
        else:
            shell.set_next_input(code, replace=False)

    def thresholds(self) -> Thresholds:
        """The rules' thresholds as currently configured with `%config SqlProfile.*`."""
        return Thresholds(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Thresholds)})


def _configurable_thresholds() -> dict[str, Any]:
    """One config trait per `Thresholds` field, with its default and help."""
    kinds = {bool: traitlets.Bool, int: traitlets.Int, float: traitlets.Float}
    return {
        f.name: kinds[type(f.default)](f.default, help=f.metadata.get("help", "")).tag(config=True)
        for f in dataclasses.fields(Thresholds)
    }


SqlProfile = magics_class(type("SqlProfile", (_SqlProfileMagics,), _configurable_thresholds()))
"""The `%%sqlprofile` magics; configure the rules with `%config SqlProfile.<threshold> = value`."""


def parse_options(line: str) -> Any:
    """The magic's options, with `-o NAME` checked and the `--save` path made usable.

    IPython splits the line without removing quotes, so `--save "~/my report.html"`
    arrives quoted; the quotes go and `~` is expanded, as a shell would do.
    """
    args = parse_argstring(_SqlProfileMagics.sqlprofile, line)
    if args.output is not None:
        name = args.output
        if not name.isidentifier() or keyword.iskeyword(name):
            raise UsageError(f"-o {name}: not a Python name to store the report under")
        if hasattr(builtins, name):
            raise UsageError(f"-o {name}: would hide the built-in {name}(); choose another name")
    if args.save is not None:
        path = args.save
        if len(path) >= 2 and path[0] == path[-1] and path[0] in "'\"":
            path = path[1:-1]
        if not path.strip():
            raise UsageError("--save needs a file name ending in .html or .json")
        args.save = os.path.expanduser(path)
    return args


def _options(shell: Any, args: Any) -> Options:
    from sqla_magic.pipeline import Options, sync_engines

    engines = None
    if args.engine:
        try:
            value = eval(args.engine, shell.user_ns)
        except Exception as problem:
            raise UsageError(f"--engine {args.engine}: {type(problem).__name__}: {problem}") from None
        engines = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        try:
            engines = sync_engines(engines)
        except TypeError as problem:
            raise UsageError(f"--engine {args.engine}: {problem}") from None
    return Options(
        thresholds=getattr(args, "thresholds", None),
        memory=not args.no_memory,
        memory_lines=args.memory_lines,
        explain=not args.no_explain,
        explain_analyze=args.explain_analyze,
        engines=engines,
        user_packages=tuple(getattr(args, "user_packages", ())),
    )


def _baseline(shell: Any, args: Any) -> Optional[Report]:
    """The report `--compare NAME` names, taken before the run (`-o` may reuse the name)."""
    if not args.compare:
        return None
    stored = shell.user_ns.get(args.compare)
    if not isinstance(stored, Report):
        raise UsageError(f"--compare {args.compare}: no report of that name (store one with -o NAME)")
    return stored


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
    args = parse_options(arg_string)
    magics = _loaded_magics(shell)
    args.thresholds = magics.thresholds() if magics is not None else None
    args.user_packages = tuple(magics.user_packages) if magics is not None else ()
    if args.statement:
        raise UsageError(f"unexpected arguments for %%sqlprofile: {' '.join(args.statement)}")
    options = _options(shell, args)
    args.baseline = _baseline(shell, args)
    from sqla_magic.pipeline import Profiler

    if _current is not None:  # a previous cell never reached post_run_cell
        _current.profiler.stop()
        _current = None
    filename = sys._getframe(1).f_code.co_filename
    # linecache holds the cell as compiled: put the magic line back as the user typed it.
    body = linecache.getlines(filename)[1:]
    source = f"{_PREFIX} {arg_string}".rstrip() + "\n" + "".join(body)
    profiler = Profiler(options, (filename,), source)
    _current = _CellRun(shell, args, profiler)
    profiler.start()


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
        from sqla_magic.magic.display import display_report

        try:
            display_report(report, shell, verify=_verifier(shell))
        except Exception as problem:  # the cell's own outcome must not be lost to a renderer
            print(
                f"sqlprofile: could not display the report ({type(problem).__name__}: {problem}); "
                "it is stored in sqla_magic.last_report()",
                file=sys.stderr,
            )
    baseline = getattr(args, "baseline", None)
    if baseline is not None and not args.quiet:
        from IPython.display import display

        try:
            display(baseline.compare(report, names=(args.compare, "this run")))
        except Exception as problem:
            print(f"sqlprofile: could not compare ({type(problem).__name__}: {problem})", file=sys.stderr)


def _verifier(shell: Any) -> Any:
    """What the widget's Try it calls: `verify` on this kernel's namespace."""

    def verify_in_namespace(finding: Any) -> Any:
        from sqla_magic.verify import verify

        return verify(finding, namespace=shell.user_ns)

    return verify_in_namespace


# -- the direct path: run_cell_magic / line magic -----------------------------------------


def _run_source(shell: Any, args: Any, source: str, first_line: int) -> Any:
    """Run code given to the magic itself, returning its last expression's value."""
    options = _options(shell, args)
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
    from sqla_magic.pipeline import Profiler

    profiler = Profiler(options, (filename,), padded)
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


# -- extension lifecycle ------------------------------------------------------------------


def _loaded_magics(shell: Any) -> Optional[Any]:
    return next((c for c in shell.configurables if isinstance(c, SqlProfile)), None)


def load(shell: Any) -> None:
    if _loaded_magics(shell) is None:
        magics = SqlProfile(shell=shell)  # `Magics.__init__` adds it to `shell.configurables`
        shell.register_magics(magics)
        if magics not in shell.configurables:
            shell.configurables.append(magics)
    if transform_cell not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(transform_cell)
    if post_run_cell not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", post_run_cell)


def unload(shell: Any) -> None:
    global _current
    if _current is not None:
        _current.profiler.stop()
        _current = None
    while transform_cell in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(transform_cell)
    if post_run_cell in shell.events.callbacks["post_run_cell"]:
        shell.events.unregister("post_run_cell", post_run_cell)
    magics = _loaded_magics(shell)
    if magics is not None:
        for kind, names in magics.magics.items():
            for name in names:
                shell.magics_manager.magics[kind].pop(name, None)
    shell.magics_manager.registry.pop("SqlProfile", None)
    shell.configurables[:] = [c for c in shell.configurables if not isinstance(c, SqlProfile)]
