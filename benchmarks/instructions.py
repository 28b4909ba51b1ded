"""Profiling overhead in CPU instructions: the same workloads as overhead.py, counted by callgrind.

Wall-clock ratios move with the load of a shared machine; instruction counts repeat from
run to run whatever else runs.  Each workload runs once per mode (after a warm-up in
every mode) inside one process under `valgrind --tool=callgrind`, collecting only
around the run: a small C helper, compiled here, issues callgrind's client requests.
Instructions are not time (cache misses and the DBAPI's waits are not in them), so this
is a second, steadier view of the CPU cost, on SQLite, where the workloads are all CPU.
Then the post-run cost: everything `profile(explain=False)` does after the profiled code's
last line (stopping the recorders, building the report, its call tree and layers, the
findings, the password masking), counted alone, after a warm profile of the same workload,
against the bare run and per statement.

    python benchmarks/instructions.py [WORKLOAD ...] [--post-run-only] [--post-run-parts]
    # needs valgrind, a C compiler and valgrind's headers; workloads as overhead.py names them
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import callgrind

HERE = Path(__file__).resolve().parent
POST_RUN = "post-run"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", help="only these workloads (default: all)")
    parser.add_argument("--post-run-only", action="store_true", help="count bare and the post-run cost only")
    parser.add_argument(
        "--post-run-parts", action="store_true", help="also count the post-run's parts (statements, rules...)"
    )
    return parser.parse_args()


def _measure(arguments: argparse.Namespace) -> None:
    """Runs under valgrind: every workload in every mode, one dump each."""
    sys.path.insert(0, str(HERE))
    import overhead

    with callgrind.Counting() as counting, overhead.library("sqlite://") as (engine, models):
        modes: dict[str, Any] = {"bare": None}
        if not arguments.post_run_only:
            modes |= {
                "capture only": overhead.MODES["capture only"],
                "default": overhead.MODES["default"],
                "empty C profile hook (floor)": counting.empty_c_hook,
                "plain cProfile": overhead.PEERS["plain cProfile"],
            }
        statements: dict[str, int] = {}
        for workload, make in overhead.WORKLOADS.items():
            if arguments.workloads and workload not in arguments.workloads:
                continue
            run = make(engine, models)
            for options in modes.values():  # warm every cache a mode fills on first use
                overhead.run_in_mode(run, options)
            for mode, options in modes.items():
                counting.count(workload, mode, lambda: overhead.run_in_mode(run, options))  # noqa: B023
            statements[workload] = _count_post_run(counting, workload, run)
            if arguments.post_run_parts:
                _count_post_run(counting, workload, run, parts=True)
            if workload == overhead.SCALED[0]:
                scaled, make_scaled = overhead.SCALED[1:]
                statements[scaled] = _count_post_run(counting, scaled, make_scaled(engine, models))
        counting.notes["statements"] = statements


def _count_post_run(counting: callgrind.Counting, workload: str, run: Any, parts: bool = False) -> int:
    """Count the post-run of a profile of `run` (after a warm one, without the first one's
    imports of the rules and libcst and parses of the workload's module): its statements.
    With `parts`, each of `PARTS` is counted on its own instead, the rest not at all."""
    from sqla_magic.pipeline import Options, Profiler

    warm = Profiler(Options(explain=False))
    warm.start(sys._getframe())
    run()
    warm.stop()
    gc.collect()
    profiler = Profiler(Options(explain=False))
    profiler.start(sys._getframe())
    run()
    finished: list[Any] = []
    if parts:
        with _parts_counted(counting, workload):
            finished.append(profiler.stop().report)
    else:
        counting.count(workload, POST_RUN, lambda: finished.append(profiler.stop().report))
    report = finished[0]
    return int(len(report.statements) + report.dropped_statements)


PARTS = {
    "statements": ("sqla_magic.capture.run", "_statements"),
    "call graph": ("sqla_magic.capture.run", "build_call_graph"),
    "records' memory": ("sqla_magic.capture.run", "held_by_records"),
    "rules": ("sqla_magic.analysis", "run_rules"),
    "password masking": ("sqla_magic.pipeline", "without_passwords"),
}
"""The post-run's parts counted by `--post-run-parts`: (module, function) as the pipeline calls it."""


@contextlib.contextmanager
def _parts_counted(counting: callgrind.Counting, workload: str) -> Iterator[None]:
    """Each of `PARTS` counted on its own while the block runs (collection is on only inside them)."""
    replaced = []
    for part, (module_name, name) in PARTS.items():
        module = importlib.import_module(module_name)
        original = getattr(module, name)

        def counted(*args: Any, _original: Any = original, _part: str = part, **kwargs: Any) -> Any:
            result: list[Any] = []
            counting.count(
                workload, f"{POST_RUN}: {_part}", lambda: result.append(_original(*args, **kwargs))
            )
            return result[0]

        setattr(module, name, counted)
        replaced.append((module, name, original))
    try:
        yield
    finally:
        for module, name, original in replaced:
            setattr(module, name, original)


def main() -> None:
    sys.path.insert(0, str(HERE))
    import overhead

    arguments = _arguments()
    if callgrind.under_callgrind():
        _measure(arguments)
        return
    counts, notes = callgrind.run(__file__, sys.argv[1:])
    print(callgrind.table(counts, skip=(POST_RUN,)))
    print(
        "\nPost-run cost of `profile(explain=False)`: stopping, building the report (call tree,"
        " layers), the findings and the password masking, after the profiled code's last line:\n"
    )
    print("| workload | statements | post-run | share of the bare run | per statement |")
    print("|---|---:|---:|---:|---:|")
    for workload, count in notes["statements"].items():
        post = counts[(workload, POST_RUN)]
        bare = counts.get((workload, "bare"))
        share = f"{post / bare:.1%}" if bare else "-"
        each = post / max(count, 1) / 1e3
        print(f"| {workload} | {count:,} | {post / 1e6:,.1f} M | {share} | {each:,.1f} k |")
    parts = [(workload, mode) for workload, mode in counts if mode.startswith(f"{POST_RUN}: ")]
    if parts:
        print("\nThe post-run's parts, each counted on its own:\n")
        print("| workload | part | instructions | per statement |")
        print("|---|---|---:|---:|")
        for workload, mode in parts:
            count = max(notes["statements"].get(workload, 1), 1)
            part = counts[(workload, mode)]
            print(
                f"| {workload} | {mode.split(': ', 1)[1]} | {part / 1e6:,.1f} M"
                f" | {part / count / 1e3:,.1f} k |"
            )
    small, large = (notes["statements"].get(name) for name in overhead.SCALED[:2])
    if small and large and large > small:
        extra = counts[(overhead.SCALED[1], POST_RUN)] - counts[(overhead.SCALED[0], POST_RUN)]
        print(
            f"\nOne more statement costs the post-run {extra / (large - small) / 1e3:,.1f} k instructions"
            f" ({overhead.SCALED[1]} against {overhead.SCALED[0]})."
        )


if __name__ == "__main__":
    main()
