"""Profiling overhead in CPU instructions: the same workloads as overhead.py, counted by callgrind.

Wall-clock ratios move with the load of a shared machine; instruction counts repeat from
run to run whatever else runs.  Each workload runs once per mode (after a warm-up in
every mode) inside one process under `valgrind --tool=callgrind`, collecting only
around the run: a small C helper, compiled here, issues callgrind's client requests.
Instructions are not time (cache misses and the DBAPI's waits are not in them), so this
is a second, steadier view of the CPU cost, on SQLite, where the workloads are all CPU.
Then the post-run cost: everything `profile(explain=False)` does after the profiled code's
last line (stopping the recorders, building the report, its call tree and layers, the
findings), counted alone, against the bare run and per statement.

    python benchmarks/instructions.py      # needs valgrind, a C compiler and valgrind's headers
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_HELPER_SOURCE = """
#include <valgrind/callgrind.h>
void collect(void) { CALLGRIND_TOGGLE_COLLECT; }
void dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }

/* An empty profile hook set from C, as cProfile sets its own: the interpreter's cost of
   reporting every call and return to a hook, under any deterministic profiler. */
typedef int (*hook)(void *, void *, int, void *);
void PyEval_SetProfile(hook, void *);
static int empty(void *o, void *f, int what, void *arg) { return 0; }
void empty_hook_on(void) { PyEval_SetProfile(empty, 0); }
void empty_hook_off(void) { PyEval_SetProfile(0, 0); }
"""
_CHILD = "SQLA_MAGIC_INSTRUCTIONS_CHILD"
_STATEMENTS = "SQLA_MAGIC_INSTRUCTIONS_STATEMENTS"
POST_RUN = "post-run"


def _helper(directory: Path) -> Path:
    source = directory / "callgrind_requests.c"
    library = directory / "callgrind_requests.so"
    source.write_text(_HELPER_SOURCE)
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def _measure(library: str) -> None:
    """Runs under valgrind: every workload in every mode, one dump each."""
    sys.path.insert(0, str(HERE))
    import overhead

    from sqla_magic.capture.run import Options, Profiler

    requests = ctypes.PyDLL(library)  # PyDLL: the hook calls need the GIL held

    def empty_c_hook(run: Callable[[], object]) -> None:
        requests.empty_hook_on()
        try:
            run()
        finally:
            requests.empty_hook_off()

    modes: dict[str, Any] = {
        "bare": None,
        "capture only": overhead.MODES["capture only"],
        "default": overhead.MODES["default"],
        "empty C profile hook (floor)": empty_c_hook,
        "plain cProfile": overhead.PEERS["plain cProfile"],
    }
    statements: dict[str, int] = {}
    with overhead.library("sqlite://") as (engine, models):
        for workload, make in overhead.WORKLOADS.items():
            run = make(engine, models)
            for options in modes.values():  # warm every cache a mode fills on first use
                overhead.run_in_mode(run, options)
            for mode, options in modes.items():
                gc.collect()  # as overhead.py does: every run starts from the same heap
                requests.collect()
                overhead.run_in_mode(run, options)
                requests.collect()
                requests.dump(f"{workload}|{mode}".encode())
            gc.collect()
            profiler = Profiler(Options(explain=False))
            profiler.start(sys._getframe())
            run()
            requests.collect()
            report = profiler.stop().report
            requests.collect()
            requests.dump(f"{workload}|{POST_RUN}".encode())
            statements[workload] = len(report.statements) + report.dropped_statements
    Path(os.environ[_STATEMENTS]).write_text(json.dumps(statements))


def _counts(directory: Path) -> dict[tuple[str, str], int]:
    counts = {}
    for dump in sorted(directory.glob("callgrind.out.*.*"), key=lambda p: int(p.suffix[1:])):
        text = dump.read_text(errors="replace")
        trigger = re.search(r"^desc: Trigger: Client Request: (.+)$", text, re.MULTILINE)
        total = re.search(r"^(?:totals|summary): (\d+)", text, re.MULTILINE)
        if trigger and total:
            workload, mode = trigger.group(1).rsplit("|", 1)
            counts[(workload, mode)] = int(total.group(1))
    return counts


def main() -> None:
    if os.environ.get(_CHILD):
        _measure(os.environ[_CHILD])
        return
    if shutil.which("valgrind") is None or shutil.which("cc") is None:
        sys.exit("instructions.py needs valgrind and a C compiler (Debian: valgrind, gcc)")
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        library = _helper(directory)
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                f"--callgrind-out-file={directory / 'callgrind.out.%p'}",
                sys.executable,
                __file__,
            ],
            env={
                **os.environ,
                _CHILD: str(library),
                _STATEMENTS: str(directory / "statements.json"),
                "PYTHONHASHSEED": "0",
            },
            check=True,
            capture_output=True,
        )
        counts = _counts(directory)
        statements = json.loads((directory / "statements.json").read_text())
    print("| workload | mode | instructions | ratio to bare |")
    print("|---|---|---:|---:|")
    for (workload, mode), count in counts.items():
        if mode != POST_RUN:
            bare = counts[(workload, "bare")]
            print(f"| {workload} | {mode} | {count / 1e6:,.0f} M | {count / bare:.2f}x |")
    print(
        "\nPost-run cost of `profile(explain=False)`: stopping, building the report (call tree,"
        " layers) and the findings, after the profiled code's last line:\n"
    )
    print("| workload | statements | post-run | share of the bare run | per statement |")
    print("|---|---:|---:|---:|---:|")
    for workload, count in statements.items():
        post = counts[(workload, POST_RUN)]
        bare = counts[(workload, "bare")]
        print(
            f"| {workload} | {count:,} | {post / 1e6:,.1f} M | {post / bare:.1%} "
            f"| {post / max(count, 1) / 1e3:,.1f} k |"
        )


if __name__ == "__main__":
    main()
