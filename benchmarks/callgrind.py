"""Counting the CPU instructions of parts of a Python run under callgrind, for the benchmarks.

A benchmark script runs itself again under `valgrind --tool=callgrind --collect-atstart=no`
(`run(__file__)`); inside, `Counting` switches collection on and off around each counted
action through callgrind's client requests, issued by a small C helper compiled here, and
dumps one total per action.  Instruction counts repeat from run to run whatever else the
machine runs, where wall time does not.

    counts, notes = callgrind.run(__file__, sys.argv[1:])  # the parent: {(workload, mode): n}
    with callgrind.Counting() as counting:                # the child, under valgrind
        counting.count(workload, mode, action)
        counting.notes[...] = ...                         # JSON values the parent reads back
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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
_LIBRARY = "SQLA_MAGIC_CALLGRIND_LIBRARY"
_DIRECTORY = "SQLA_MAGIC_CALLGRIND_DIRECTORY"
_NOTES = "notes.json"


def under_callgrind() -> bool:
    """This process is the child `run` started under valgrind."""
    return bool(os.environ.get(_LIBRARY))


class Counting:
    """The child's side: count actions one by one, then hand the notes to the parent."""

    def __init__(self) -> None:
        self.requests = ctypes.PyDLL(os.environ[_LIBRARY])  # PyDLL: the hook calls need the GIL
        self.notes: dict[str, Any] = {}

    def count(self, workload: str, mode: str, action: Callable[[], object]) -> None:
        """Instructions of `action()` alone, from a collected heap."""
        gc.collect()
        self.requests.collect()
        try:
            action()
        finally:
            self.requests.collect()
            self.requests.dump(f"{workload}|{mode}".encode())

    def empty_c_hook(self, run: Callable[[], object]) -> None:
        """`run()` under an empty profile hook set from C (the floor of any deterministic profiler)."""
        self.requests.empty_hook_on()
        try:
            run()
        finally:
            self.requests.empty_hook_off()

    def __enter__(self) -> Counting:
        return self

    def __exit__(self, *exc: object) -> None:
        Path(os.environ[_DIRECTORY], _NOTES).write_text(json.dumps(self.notes))


def run(script: str, arguments: Sequence[str] = ()) -> tuple[dict[tuple[str, str], int], dict[str, Any]]:
    """Run `script` with `arguments` under callgrind (it counts through `Counting` when
    `under_callgrind()`): its counts by (workload, mode), in the order counted, and its notes."""
    if shutil.which("valgrind") is None or shutil.which("cc") is None:
        sys.exit(
            f"{Path(script).name} needs valgrind, a C compiler and valgrind's headers (Debian: valgrind, gcc)"
        )
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        source = directory / "callgrind_requests.c"
        library = directory / "callgrind_requests.so"
        source.write_text(_HELPER_SOURCE)
        subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                f"--callgrind-out-file={directory / 'callgrind.out.%p'}",
                sys.executable,
                script,
                *arguments,
            ],
            env={
                **os.environ,
                _LIBRARY: str(library),
                _DIRECTORY: str(directory),
                "PYTHONHASHSEED": "0",
            },
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            sys.exit(f"{Path(script).name} failed under callgrind:\n{done.stderr[-3000:]}")
        notes_file = directory / _NOTES
        notes = json.loads(notes_file.read_text()) if notes_file.exists() else {}
        return _counts(directory), notes


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


def table(counts: dict[tuple[str, str], int], skip: Sequence[str] = ()) -> str:
    """Markdown: every count with its ratio to the same workload's `bare`."""
    rows = ["| workload | mode | instructions | ratio to bare |", "|---|---|---:|---:|"]
    workloads = list(dict.fromkeys(workload for workload, _mode in counts))
    for (workload, mode), count in sorted(counts.items(), key=lambda item: workloads.index(item[0][0])):
        if mode not in skip:
            bare = counts[(workload, "bare")]
            rows.append(f"| {workload} | {mode} | {count / 1e6:,.0f} M | {count / bare:.2f}x |")
    return "\n".join(rows)
