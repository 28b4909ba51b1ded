"""The `%%sqlprofile` options: IPython's argument decorators, their checks, pipeline `Options`."""

from __future__ import annotations

import builtins
import keyword
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments

from sqla_magic.model import Report

if TYPE_CHECKING:
    from sqla_magic.pipeline import Options

_ARGUMENTS = (
    argument("-o", dest="output", metavar="NAME", help="also store the Report in the user namespace as NAME"),
    argument("--no-memory", action="store_true", help="skip memory tracing"),
    argument(
        "--allocations",
        action="store_true",
        help="trace allocations for the memory headline: what the cell allocated at its peak (slower)",
    ),
    argument("--memory-lines", action="store_true", help="per-line memory table for the cell (slower)"),
    argument("--no-explain", action="store_true", help="do not run EXPLAIN"),
    argument(
        "--explain-analyze",
        action="store_true",
        help="EXPLAIN ANALYZE read-only statements, inside a transaction that is rolled back",
    ),
    argument("--engine", metavar="EXPR", help="capture only this engine (evaluated in the user namespace)"),
    argument(
        "--save",
        metavar="PATH",
        help="write the report to PATH (.html, .json, .sarif findings, .csv statements)",
    ),
    argument(
        "--redact", action="store_true", help="with --save: replace parameter values with ? in the file"
    ),
    argument("--quiet", action="store_true", help="display nothing (the report is still stored)"),
    argument(
        "--compare", metavar="NAME", help="also show how this run differs from the report stored as NAME"
    ),
    argument("statement", nargs="*", help="the statement to profile (line magic)"),
)
"""The options in the order `%sqlprofile?` lists them."""


def arguments(magic: Callable[..., Any]) -> Callable[..., Any]:
    """`magic` with the options, as `@magic_arguments()` over one `@argument` per option."""
    for option in reversed(_ARGUMENTS):
        magic = option(magic)
    return magic_arguments()(magic)  # type: ignore[no-any-return]


def checked(args: Any) -> Any:
    """`args` with `-o NAME` checked and the `--save` path made usable.

    IPython splits the line without removing quotes, so `--save "~/my report.html"`
    arrives quoted; the quotes go and `~` is expanded, as a shell would do.
    """
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


def pipeline_options(shell: Any, args: Any) -> Options:
    """What the pipeline is told, `--engine EXPR` evaluated in the user namespace."""
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
        allocations=args.allocations,
        memory_lines=args.memory_lines,
        explain=not args.no_explain,
        explain_analyze=args.explain_analyze,
        engines=engines,
        user_packages=tuple(getattr(args, "user_packages", ())),
    )


def baseline(shell: Any, args: Any) -> Optional[Report]:
    """The report `--compare NAME` names, taken before the run (`-o` may reuse the name)."""
    if not args.compare:
        return None
    stored = shell.user_ns.get(args.compare)
    if not isinstance(stored, Report):
        raise UsageError(f"--compare {args.compare}: no report of that name (store one with -o NAME)")
    return stored
