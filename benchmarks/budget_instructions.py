"""What a statement budget costs, in CPU instructions, beside queryspy's recording.

The workloads of overhead.py, each run once per mode under callgrind (after a warm-up of
every mode), as instructions.py does.  Modes: bare; `budget()` with statement limits only
(statements recorded, no call tree, memory, EXPLAIN or rules); `budget(fail_on=
("n-plus-one",))` (the rules run after the block); queryspy's `record()` (its default,
with the app frame of each query) and `no_n_plus_one()` (record, then its N+1 check).
queryspy's listeners may stay on SQLAlchemy's classes after its block ends, so its modes
run after every other mode of every workload.

    python benchmarks/budget_instructions.py [WORKLOAD ...]   # needs valgrind, cc, queryspy

With workload names (as overhead.py names them), only those run.
"""

from __future__ import annotations

import ctypes
import gc
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_CHILD = "SQLA_MAGIC_BUDGET_INSTRUCTIONS_CHILD"
_ONLY = "SQLA_MAGIC_BUDGET_INSTRUCTIONS_ONLY"
NO_LIMIT = 10**9


def _budget_only(run: Callable[[], object]) -> None:
    from sqla_magic import budget

    with budget(max_statements=NO_LIMIT, max_per_shape=NO_LIMIT):
        run()


def _budget_with_rule(run: Callable[[], object]) -> None:
    from sqla_magic import BudgetExceeded, budget

    try:
        with budget(max_statements=NO_LIMIT, fail_on=("n-plus-one",)):
            run()
    except BudgetExceeded:
        pass  # the N+1 workload is one: the check is part of the cost


def _queryspy_record(run: Callable[[], object]) -> None:
    import queryspy

    with queryspy.record():
        run()


def _queryspy_no_n_plus_one(run: Callable[[], object]) -> None:
    import queryspy

    try:
        with queryspy.no_n_plus_one():
            run()
    except queryspy.NPlusOneError:
        pass


OURS: dict[str, Any] = {
    "bare": None,
    "budget, statement limits": _budget_only,
    "budget + n-plus-one rule": _budget_with_rule,
}
QUERYSPY: dict[str, Any] = {
    "queryspy record()": _queryspy_record,
    "queryspy no_n_plus_one()": _queryspy_no_n_plus_one,
}


def _measure(library: str) -> None:
    sys.path.insert(0, str(HERE))
    import overhead

    requests = ctypes.PyDLL(library)

    def counted(workload: str, mode: str, run: Callable[[], object], options: Any) -> None:
        gc.collect()
        requests.collect()
        overhead.run_in_mode(run, options)
        requests.collect()
        requests.dump(f"{workload}|{mode}".encode())

    with overhead.library("sqlite://") as (engine, models):
        only = [name for name in os.environ.get(_ONLY, "").split("|") if name]
        runs = {
            workload: make(engine, models)
            for workload, make in overhead.WORKLOADS.items()
            if not only or workload in only
        }
        for workload, run in runs.items():
            for options in OURS.values():
                overhead.run_in_mode(run, options)
            for mode, options in OURS.items():
                counted(workload, mode, run, options)
        for workload, run in runs.items():
            for options in QUERYSPY.values():
                overhead.run_in_mode(run, options)
            for mode, options in QUERYSPY.items():
                counted(workload, mode, run, options)


def main() -> None:
    if os.environ.get(_CHILD):
        _measure(os.environ[_CHILD])
        return
    if shutil.which("valgrind") is None or shutil.which("cc") is None:
        sys.exit("budget_instructions.py needs valgrind and a C compiler (Debian: valgrind, gcc)")
    try:
        import queryspy  # noqa: F401
    except ImportError:
        sys.exit("budget_instructions.py compares with queryspy: pip install queryspy")
    sys.path.insert(0, str(HERE))
    import instructions

    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        library = instructions._helper(directory)
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                f"--callgrind-out-file={directory / 'callgrind.out.%p'}",
                sys.executable,
                __file__,
            ],
            env={**os.environ, _CHILD: str(library), _ONLY: "|".join(sys.argv[1:]), "PYTHONHASHSEED": "0"},
            check=True,
            capture_output=True,
        )
        counts = instructions._counts(directory)
    print("| workload | mode | instructions | ratio to bare |")
    print("|---|---|---:|---:|")
    for (workload, mode), count in counts.items():
        bare = counts[(workload, "bare")]
        print(f"| {workload} | {mode} | {count / 1e6:,.0f} M | {count / bare:.2f}x |")


if __name__ == "__main__":
    main()
