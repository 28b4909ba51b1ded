"""`%sqlprofile_apply N` and `%sqlprofile_test N`: a finding's rewrite into the next cell, or a test."""

from __future__ import annotations

import os
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from sqla_magic.model import Report


@magics_class
class FindingMagics(Magics):
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
        from sqla_magic.render.view_model import rewrite_source
        from sqla_magic.render.widget import write_module

        args = parse_argstring(self.sqlprofile_apply, line)
        shell: Any = self.shell
        report = _report(shell, args.report)
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
        from sqla_magic.render.test_code import finding_test_source

        args = parse_argstring(self.sqlprofile_test, line)
        shell: Any = self.shell
        before, after = _report(shell, args.report), _report(shell, args.after)
        try:
            code = finding_test_source(before, args.number, after, shell.user_ns, args.name)
        except ValueError as problem:
            raise UsageError(str(problem)) from None
        if args.file:
            with open(os.path.expanduser(args.file), "w", encoding="utf-8") as output:
                output.write(code)
            print(f"wrote {args.file}")
        else:
            shell.set_next_input(code, replace=False)


def _report(shell: Any, name: Any) -> Report:
    """The report stored as `name` in the user namespace, or the latest one."""
    from sqla_magic.pipeline import last_report

    report = shell.user_ns.get(name) if name else last_report()
    if not isinstance(report, Report):
        raise UsageError(f"no report {f'named {name}' if name else 'yet'}: run %%sqlprofile first")
    return report
