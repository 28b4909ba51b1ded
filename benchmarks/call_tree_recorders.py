"""A call-tree recorder on `sys.monitoring` (Python 3.12+) against cProfile, on the overhead workloads.

The recorder listens to PY_START / PY_RESUME and PY_RETURN / PY_YIELD / PY_UNWIND, the
events cProfile itself uses for Python functions, and keeps what cProfile keeps per
caller/callee pair (calls, own time, total time), with Python callbacks: the only kind
a pure-Python package can register.  Each run is paired with a bare run; the table gives
the median of the ratios.

    python benchmarks/call_tree_recorders.py [--runs 5]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import statistics
import sys
import time
from collections.abc import Callable
from types import CodeType
from typing import Any

import overhead

_clock = time.perf_counter


class MonitoringRecorder:
    """Per (caller, callee) code objects: [calls, own seconds, total seconds]."""

    def __init__(self) -> None:
        self.stats: dict[tuple[Any, CodeType], list[float]] = {}

    def start(self) -> None:
        monitoring: Any = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        events = monitoring.events
        tool = monitoring.PROFILER_ID
        monitoring.use_tool_id(tool, "call tree")
        stack: list[tuple[CodeType, float, float]] = []
        stats = self.stats
        push, pop = stack.append, stack.pop

        def enter(code: CodeType, offset: int) -> None:
            push((code, _clock(), 0.0))

        def leave(code: CodeType, offset: int, value: object) -> None:
            now = _clock()
            if not stack:
                return
            callee, began, inner = pop()
            total = now - began
            caller = stack[-1][0] if stack else None
            entry = stats.get((caller, callee))
            if entry is None:
                stats[(caller, callee)] = [1, total - inner, total]
            else:
                entry[0] += 1
                entry[1] += total - inner
                entry[2] += total
            if stack:
                parent, started, within = stack[-1]
                stack[-1] = (parent, started, within + total)

        for event, callback in (
            (events.PY_START, enter),
            (events.PY_RESUME, enter),
            (events.PY_RETURN, leave),
            (events.PY_YIELD, leave),
            (events.PY_UNWIND, leave),
        ):
            monitoring.register_callback(tool, event, callback)
        monitoring.set_events(
            tool, events.PY_START | events.PY_RESUME | events.PY_RETURN | events.PY_YIELD | events.PY_UNWIND
        )

    def stop(self) -> None:
        monitoring: Any = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        events = monitoring.events
        tool = monitoring.PROFILER_ID
        monitoring.set_events(tool, 0)
        for event in (events.PY_START, events.PY_RESUME, events.PY_RETURN, events.PY_YIELD, events.PY_UNWIND):
            monitoring.register_callback(tool, event, None)
        monitoring.free_tool_id(tool)


def _under_monitoring(run: Callable[[], object]) -> None:
    recorder = MonitoringRecorder()
    recorder.start()
    try:
        run()
    finally:
        recorder.stop()


def _under_cprofile(run: Callable[[], object]) -> None:
    profiler = cProfile.Profile(builtins=False)  # what profile() runs
    profiler.enable()
    try:
        run()
    finally:
        profiler.disable()
    profiler.create_stats()


def _seconds(action: Callable[[], object]) -> float:
    gc.collect()
    start = _clock()
    action()
    return _clock() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not hasattr(sys, "monitoring"):
        sys.exit("sys.monitoring needs Python 3.12 or later")
    recorders = {
        "cProfile(builtins=False)": _under_cprofile,
        "sys.monitoring, Python callbacks": _under_monitoring,
    }
    print(f"Python {sys.version.split()[0]}, ratios to paired bare runs (median of {args.runs}):\n")
    print("| workload | " + " | ".join(recorders) + " |")
    print("|---|" + "---:|" * len(recorders))
    with overhead.library("sqlite://") as (engine, models):
        for name, make in overhead.WORKLOADS.items():
            run = make(engine, models)
            run()
            ratios: dict[str, list[float]] = {label: [] for label in recorders}
            for _ in range(args.runs):
                for label, record in recorders.items():
                    bare = _seconds(run)
                    ratios[label].append(_seconds(lambda record=record, run=run: record(run)) / bare)
            print(f"| {name} | " + " | ".join(f"{statistics.median(r):.2f}x" for r in ratios.values()) + " |")


if __name__ == "__main__":
    main()
