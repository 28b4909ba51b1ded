"""Memory of the profiled code: what it allocated at its highest, its resident peak, and a
per-line table on request.

Allocated (the headline): tracemalloc's peak of traced memory above the level at start,
which counts what the code allocated and still held at its highest, whatever the
allocator had kept from earlier cells (so a re-run shows the same figure).  The
profiler's own records are subtracted by its caller (`capture.run`).  tracemalloc
hooks every allocation: on allocation-heavy Python it costs about as much as cProfile.
Nested measurers share tracemalloc's one peak: resetting it (`reset_traced_peak`) first
carries the peak so far into every measurer still running.

Resident (secondary): on Linux the kernel keeps the resident-set high-water mark
(`VmHWM`), which `/proc/self/clear_refs` resets, so it costs nothing while the code runs.
Elsewhere a thread samples the RSS through psutil every few milliseconds.  It grows only
when the process needs pages it did not have, so it varies from run to run.

Per line (memory_profiler's table, which memory_profiler itself cannot produce for code
that is not in a file on disk): tracemalloc, plus a local trace function on the frames
of the profiled files only, that reads the traced size and peak at every line event.
It costs several times the bare run; that is why it is opt-in.
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
import threading
import tracemalloc
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from sqla_magic.model import MemoryLine

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"


def _status_bytes(field_name: str) -> Optional[int]:
    try:
        with open(_STATUS, encoding="ascii") as status:
            for row in status:
                if row.startswith(field_name):
                    return int(row.split()[1]) * 1024
    except OSError:
        return None
    return None


@functools.cache
def _malloc_trim() -> Optional[Callable[[int], int]]:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def _return_free_heap() -> None:
    """Give the C heap's free pages back to the system (glibc's `malloc_trim`, 1-3 ms), so
    that the resident growth counts the pages the code needs, not the ones earlier cells
    left free for it to reuse: a re-run then shows the same figure."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


_RUNNING: list[PeakRss] = []
"""Peaks being measured: resetting the kernel's high-water mark for a nested one must not
lose the outer ones' peak so far, which is carried over first."""
_RUNNING_LOCK = threading.Lock()


class PeakRss:
    """Peak resident memory above the level at start."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.start_bytes = 0
        self.peak_bytes = 0
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._kernel_peak = False
        self._carried = 0

    def start(self) -> None:
        _return_free_heap()
        self.start_bytes = _status_bytes("VmRSS:") or _psutil_rss()
        self.peak_bytes = self.start_bytes
        with _RUNNING_LOCK:
            high_water = _status_bytes("VmHWM:") or 0
            for outer in _RUNNING:
                outer._carried = max(outer._carried, high_water)
            _RUNNING.append(self)
        try:
            with open(_CLEAR_REFS, "w", encoding="ascii") as clear:
                clear.write("5")
            self._kernel_peak = _status_bytes("VmHWM:") is not None
        except OSError:
            self._kernel_peak = False
        if not self._kernel_peak:
            self._thread = threading.Thread(target=self._sample, name="sqla_magic-rss", daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_bytes = max(self.peak_bytes, _psutil_rss())

    def stop(self) -> int:
        """Stop and return the peak growth in bytes."""
        with _RUNNING_LOCK:
            if self in _RUNNING:
                _RUNNING.remove(self)
        if self._kernel_peak:
            self.peak_bytes = max(_status_bytes("VmHWM:") or self.peak_bytes, self._carried)
        elif self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, _psutil_rss())
        return max(self.peak_bytes - self.start_bytes, 0)


_TRACING: list[AllocatedPeak] = []
_TRACING_LOCK = threading.Lock()


def reset_traced_peak() -> None:
    """`tracemalloc.reset_peak()` that first carries the peak so far into every running
    `AllocatedPeak` (a nested profile, verify or the per-line table resets it)."""
    with _TRACING_LOCK:
        if _TRACING:
            peak = tracemalloc.get_traced_memory()[1]
            for running in _TRACING:
                running.carried = max(running.carried, peak)
        tracemalloc.reset_peak()


class AllocatedPeak:
    """Peak traced memory (tracemalloc) above the level at start."""

    def __init__(self) -> None:
        self.start_bytes = 0
        self.carried = 0
        self._owns_tracing = False

    def start(self) -> None:
        self._owns_tracing = not tracemalloc.is_tracing()
        if self._owns_tracing:
            tracemalloc.start(1)
        reset_traced_peak()
        with _TRACING_LOCK:
            self.start_bytes = tracemalloc.get_traced_memory()[0]
            _TRACING.append(self)

    def stop(self) -> Optional[int]:
        """Stop; the peak growth in bytes, or None when tracing was stopped meanwhile."""
        with _TRACING_LOCK:
            if self in _TRACING:
                _TRACING.remove(self)
            tracing = tracemalloc.is_tracing()
            peak = max(tracemalloc.get_traced_memory()[1], self.carried) if tracing else 0
            for outer in _TRACING:
                outer.carried = max(outer.carried, peak)
        if self._owns_tracing and tracing:
            tracemalloc.stop()
        return max(peak - self.start_bytes, 0) if tracing else None


def _psutil_rss() -> int:
    import psutil

    return int(psutil.Process(os.getpid()).memory_info().rss)


@dataclass
class _LineStats:
    increment: int = 0
    total: int = 0
    peak: int = 0
    occurrences: int = 0


class LineMemory:
    """Per-line memory of the frames whose code lives in `filenames`."""

    def __init__(self, filenames: frozenset[str]) -> None:
        self.filenames = filenames
        self.lines: dict[tuple[str, int], _LineStats] = {}
        self.peak_bytes = 0
        self.start_bytes = 0
        self._previous_trace: Optional[Callable[..., Any]] = None
        self._owns_tracemalloc = False
        # frame -> (line being run, traced bytes when it started)
        self._running: dict[types.FrameType, tuple[int, int]] = {}
        self._entered: Optional[types.FrameType] = None

    def start(self, running: Optional[types.FrameType] = None) -> Optional[str]:
        """Start tracing this thread; returns a note instead if a tracer is already active.

        `running` is a profiled frame already executing (the body of a `with profile()`),
        which a new global trace function would not see.
        """
        if sys.gettrace() is not None:
            return "per-line memory not recorded: another trace function (debugger or coverage) is active"
        if not tracemalloc.is_tracing():
            tracemalloc.start(1)
            self._owns_tracemalloc = True
        reset_traced_peak()
        self.start_bytes = tracemalloc.get_traced_memory()[0]
        sys.settrace(self._global_trace)
        if running is not None and running.f_code.co_filename in self.filenames:
            running.f_trace = self._local_trace
            self._entered = running
        return None

    def stop(self) -> None:
        sys.settrace(None)
        if self._entered is not None:
            self._entered.f_trace = None
            self._entered = None
        current, peak = tracemalloc.get_traced_memory()
        for frame in list(self._running):
            self._finish_line(frame, current, peak)
        self.peak_bytes = max(self.peak_bytes, peak - self.start_bytes)
        if self._owns_tracemalloc:
            tracemalloc.stop()

    def _global_trace(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename in self.filenames:
            return self._local_trace
        return None

    def _local_trace(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "line" or event == "return":
            current, peak = tracemalloc.get_traced_memory()
            if frame in self._running:
                self._finish_line(frame, current, peak)
            if event == "line":
                reset_traced_peak()
                self._running[frame] = (frame.f_lineno, current)
        return self._local_trace

    def _finish_line(self, frame: types.FrameType, current: int, peak: int) -> None:
        line, before = self._running.pop(frame)
        stats = self.lines.get((frame.f_code.co_filename, line))
        if stats is None:
            stats = self.lines[(frame.f_code.co_filename, line)] = _LineStats()
        stats.increment += current - before
        stats.total = current - self.start_bytes
        stats.peak = max(stats.peak, peak - before)
        stats.occurrences += 1
        self.peak_bytes = max(self.peak_bytes, peak - self.start_bytes)

    def table(self, filename: str, source: str = "") -> tuple[MemoryLine, ...]:
        """The table for one file, in line order; source text from `source` or linecache."""
        source_lines = source.splitlines() if source else None
        rows = []
        for (file, line), stats in sorted(self.lines.items()):
            if file != filename:
                continue
            if source_lines is not None:
                text = source_lines[line - 1] if 0 < line <= len(source_lines) else ""
            else:
                text = linecache.getline(file, line).rstrip("\n")
            rows.append(
                MemoryLine(
                    line=line,
                    increment_bytes=stats.increment,
                    total_bytes=stats.total,
                    source=text,
                    peak_bytes=stats.peak,
                    occurrences=stats.occurrences,
                )
            )
        return tuple(rows)
