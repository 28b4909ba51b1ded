"""SQLAlchemy's own `examples/performance` suites under `%%sqlprofile`: which rules each test gets.

Every test of every suite runs twice in a real IPython shell, each time after the suite's
own setup: *pasted* (the test function's body is the cell, with the suite module's names
in the namespace) and *called* (the cell is `suite.test_x(n)`, the code stays in the
suite's module).  The table gives the rules found each way, and whether SQLAlchemy's
documentation of the suite calls that variant slow (see `SLOW` for what it says).

The suites come from SQLAlchemy's source distribution, downloaded at run time with pip
into a temporary directory (or `--sdist PATH` for one already downloaded); none of their
code is kept here.

    python benchmarks/performance_suites.py [--sdist sqlalchemy-2.0.x.tar.gz]
"""

from __future__ import annotations

import argparse
import ast
import glob
import inspect
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from pathlib import Path
from typing import Any

SUITES = {
    "bulk_inserts": 2_000,
    "bulk_updates": 2_000,
    "large_resultsets": 20_000,
    "short_selects": 300,
    "single_inserts": 300,
}
"""Each suite with the `num` it runs with: its default scaled down, still above every
rule's threshold (10,000 rows for large-result, 100 for loop-insert)."""

SLOW = {
    "bulk_inserts.test_flush_no_pk": "ORM unit of work, the slowest way to insert in bulk",
    "bulk_inserts.test_flush_pk_given": "ORM unit of work, one object per row",
    "bulk_updates.test_orm_flush": "UPDATEs via the ORM flush, one object per row",
    "large_resultsets.test_orm_full_objects_list": "fully tracked objects in one big list",
    "short_selects.test_orm_query_classic_style": "no cache",
    "short_selects.test_orm_query_new_style": "no cache",
    "short_selects.test_orm_query_classic_style_cols_only": "no cache",
    "short_selects.test_core_new_stmt_each_time": "no cache",
    "short_selects.test_core_reuse_stmt": "no cache",
    "single_inserts.test_orm_commit": "the slowest of the suite's documented timings",
    "single_inserts.test_bulk_save": "a bulk call per row",
    "single_inserts.test_bulk_insert_dictionaries": "a bulk call per row",
}
"""What SQLAlchemy's documentation says is slow: the suites are "sorted in order of
performance from worst to greatest" (examples/performance/__init__.py); the variants
here are the ones its docstrings mark as such (`no cache` in short_selects), the ORM
flush paths of the bulk suites, the full-object list of large_resultsets, and the slow
end of the documented single_inserts timings."""

REQUIREMENT = "sqlalchemy>=2.0.36,<2.1"


def download(directory: str) -> str:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            REQUIREMENT,
            "-d",
            directory,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (sdist,) = glob.glob(os.path.join(directory, "[sS][qQ][lL][aA]lchemy-*.tar.gz"))
    return sdist


def unpack(sdist: str, directory: str) -> str:
    """`examples/performance` of the sdist, as the package `examples.performance` under `directory`."""
    with tarfile.open(sdist) as archive:
        members = [
            m for m in archive.getmembers() if "/examples/performance/" in m.name and m.name.endswith(".py")
        ]
        for member in members:
            member.name = "examples/performance/" + member.name.split("/examples/performance/", 1)[1]
        archive.extractall(directory, members=members, filter="data")
    Path(directory, "examples", "__init__.py").touch()
    return directory


def body_of(function: Any, num: int) -> str:
    """The test function's body as a cell, with its argument bound first."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    definition = tree.body[0]
    assert isinstance(definition, ast.FunctionDef)
    statements = definition.body
    if statements and isinstance(statements[0], ast.Expr) and isinstance(statements[0].value, ast.Constant):
        statements = statements[1:]  # the docstring
    lines = inspect.getsource(function).splitlines()
    first = statements[0].lineno - 1
    body = textwrap.dedent("\n".join(lines[first:]))
    return f"{definition.args.args[0].arg} = {num}\n{body}\n"


def run_suite(name: str, num: int, root: str, database: str) -> list[dict[str, Any]]:
    """Every test of one suite, pasted and called (in this process: one suite per process,
    since the suites share one `Profiler` registry)."""
    from IPython.core.interactiveshell import InteractiveShell

    sys.path.insert(0, root)
    import importlib

    module = importlib.import_module(f"examples.performance.{name}")
    profiler = importlib.import_module("examples.performance").Profiler
    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext sqla_magic", store_history=False).raise_error()
    url = f"sqlite:///{database}"
    if profiler._setup_once:
        profiler._setup_once(url, False, num)
    results = []
    for test in [t for t in profiler.tests if t.__module__ == module.__name__]:
        found = {}
        for way in ("pasted", "called"):
            if profiler._setup:
                profiler._setup(url, False, num)
            shell.user_ns.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
            shell.user_ns["suite"] = module
            cell = body_of(test, num) if way == "pasted" else f"suite.{test.__name__}({num})\n"
            shell.user_ns.pop("rep", None)
            outcome = shell.run_cell(f"%%sqlprofile -o rep --quiet --no-explain --no-memory\n{cell}")
            if outcome.error_in_exec is not None:
                found[way] = [f"error: {type(outcome.error_in_exec).__name__}"]
                continue
            report = shell.user_ns["rep"]
            found[way] = sorted({f.rule for f in report.findings})
        results.append({"test": f"{name}.{test.__name__}", **found})
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| test | rules, pasted into the cell | rules, called from the cell | documentation calls it slow |",
        "|------|-----------------------------|-----------------------------|-----------------------------|",
    ]
    for row in results:
        slow = SLOW.get(row["test"])
        lines.append(
            f"| `{row['test']}` | {', '.join(row['pasted']) or '—'} | {', '.join(row['called']) or '—'} | "
            f"{f'yes ({slow})' if slow else 'no'} |"
        )
    slow_rows = [r for r in results if r["test"] in SLOW]
    for way in ("pasted", "called"):
        flagged = sum(bool(r[way]) and not r[way][0].startswith("error") for r in slow_rows)
        lines.append(f"\n{way}: {flagged} of {len(slow_rows)} slow variants get a finding")
    clean = [r for r in results if r["test"] not in SLOW]
    for way in ("pasted", "called"):
        quiet = sum(not r[way] for r in clean)
        lines.append(f"{way}: {quiet} of {len(clean)} other variants get none")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sdist", help="SQLAlchemy's sdist (.tar.gz); downloaded with pip if not given")
    parser.add_argument("--suite", help=argparse.SUPPRESS)  # one suite, in a child process
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.suite:
        with tempfile.TemporaryDirectory() as scratch:
            rows = run_suite(args.suite, SUITES[args.suite], args.root, os.path.join(scratch, "profile.db"))
        print(json.dumps(rows))
        return
    with tempfile.TemporaryDirectory() as scratch:
        sdist = args.sdist or download(scratch)
        root = unpack(sdist, os.path.join(scratch, "suites"))
        results = []
        for suite in SUITES:
            child = subprocess.run(
                [sys.executable, __file__, "--suite", suite, "--root", root],
                check=True,
                capture_output=True,
                text=True,
            )
            results.extend(json.loads(child.stdout.strip().splitlines()[-1]))
    print(f"SQLAlchemy's examples/performance from {os.path.basename(sdist)}, on SQLite\n")
    print(table(results))


if __name__ == "__main__":
    main()
