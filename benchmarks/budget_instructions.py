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

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import callgrind

HERE = Path(__file__).resolve().parent
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


def _measure(only: list[str]) -> None:
    sys.path.insert(0, str(HERE))
    import overhead

    with callgrind.Counting() as counting, overhead.library("sqlite://") as (engine, models):
        runs = {
            workload: make(engine, models)
            for workload, make in overhead.WORKLOADS.items()
            if not only or workload in only
        }
        for modes in (OURS, QUERYSPY):
            for workload, run in runs.items():
                for options in modes.values():  # warm-up
                    overhead.run_in_mode(run, options)
                for mode, options in modes.items():
                    counting.count(workload, mode, lambda: overhead.run_in_mode(run, options))  # noqa: B023


def main() -> None:
    only = sys.argv[1:]
    if callgrind.under_callgrind():
        _measure(only)
        return
    try:
        import queryspy  # noqa: F401
    except ImportError:
        sys.exit("budget_instructions.py compares with queryspy: pip install queryspy")
    counts, _notes = callgrind.run(__file__, only)
    print(callgrind.table(counts))


if __name__ == "__main__":
    main()
