"""The cumulative call tree of the profiled code, from cProfile's caller/callee statistics.

cProfile keeps, per function, its totals and the totals of each caller→callee edge, not
whole stacks.  The tree is expanded from the profiled code's own entry points: a child
gets its edge's time, scaled by the share of the parent's time its node represents (as
snakeviz and gprof2dot do).  Branches below `min_fraction` of the total are cut and their
time kept in their parent's layer, so layer sums stay whole.  Frames of this package
are spliced out: their children hang from the profiled caller.
"""

from __future__ import annotations

import bisect
import cProfile
import functools
import itertools
import operator
import os
import sys
import sysconfig
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, cast

from sqla_magic.capture.layers import file_classifier
from sqla_magic.model import LAYERS, CallNode, collector_paused

Key = tuple[str, int, str]
Edge = tuple[int, int, float]
"""A call edge's callee (by number), primitive calls and cumulative seconds."""

_CAPTURE_DIR = os.path.dirname(os.path.abspath(__file__))
"""The profiler's own frames (the cursor stand-in, `profile.__exit__`) live here."""
_STDLIB_DIR = sysconfig.get_paths()["stdlib"]
_HIDDEN_BUILTINS = ("<method 'disable' of '_lsprof.Profiler' objects>",)
_CODE_LABEL = operator.attrgetter("co_filename", "co_firstlineno", "co_name")
_FILE = operator.itemgetter(0)
_CALLEE = operator.itemgetter(0)
_NAME = operator.itemgetter(2)
_TOTAL = operator.attrgetter("total_s")


@dataclass
class CallGraph:
    tree: Optional[CallNode]
    layer_seconds: dict[str, float] = field(default_factory=dict)
    nodes: int = 0
    truncated: bool = False


class _Functions:
    """cProfile's statistics as `Profile.create_stats` gives them, read in C passes over
    `getstats()` rather than its Python loop per function and per edge.  A function is
    numbered by its first entry, so that their order is `create_stats`' order.

    Like `create_stats`, functions are told apart by (file, line, name): code objects that
    share one (SQLAlchemy's generated functions, two lambdas on a line) are one function,
    with the figures of the last one and the calls out of all of them added up; the calls
    into the others are dropped.  The later entries of a shared label are `absorbed`: they
    are no function of their own, and their own time reads zero.
    """

    def __init__(self, entries: Sequence[Any]) -> None:
        self.labels: list[Key] = []
        self.calls: Sequence[int] = ()
        """Calls of each function, recursive ones included (pstats' `nc`)."""
        self.inline: Sequence[float] = ()
        self.cumulative: Sequence[float] = ()
        self.children: dict[int, list[Edge]] = {}
        """The edges out of each function that calls any, callees in function order."""
        self.called: set[int] = set()
        self.absorbed: set[int] = set()
        if not entries:
            return
        codes, calls, _recursive, cumulative, inline, subentries = zip(*entries, strict=True)
        try:
            labels = list(map(_CODE_LABEL, codes))
        except AttributeError:  # builtins profiled too: their names are strings
            labels = list(map(cProfile.label, codes))
        self.labels, self.calls, self.inline, self.cumulative = labels, calls, inline, cumulative
        callee_of = dict(zip(map(id, codes), itertools.count()))
        function_of: Sequence[int] = range(len(labels))
        shared: set[int] = set()
        if len(set(labels)) < len(labels):
            function_of, shared = self._absorb(labels, codes, callee_of)
        calling = list(itertools.compress(function_of, subentries))
        self._read_edges(calling, list(filter(None, subentries)), callee_of, shared)

    def _absorb(
        self, labels: list[Key], codes: Sequence[Any], callee_of: dict[int, int]
    ) -> tuple[list[int], set[int]]:
        """Fold the later entries of each shared label into its first: the function of each
        entry and the functions that have several."""
        first = dict(zip(reversed(labels), range(len(labels) - 1, -1, -1), strict=True))
        self.absorbed = set(range(len(labels))).difference(first.values())
        members: dict[int, list[int]] = {}
        function_of = list(range(len(labels)))
        for entry in sorted(self.absorbed):
            function = function_of[entry] = first[labels[entry]]
            members.setdefault(function, [function]).append(entry)
        calls, inline, cumulative = list(self.calls), list(self.inline), list(self.cumulative)
        for function, entries in members.items():
            last = entries[-1]
            calls[function], inline[function], cumulative[function] = (
                calls[last],
                inline[last],
                cumulative[last],
            )
            for entry in entries:
                del callee_of[id(codes[entry])]
            callee_of[id(codes[last])] = function
        for entry in self.absorbed:
            inline[entry] = 0.0
        self.calls, self.inline, self.cumulative = calls, inline, cumulative
        return function_of, set(members)

    def _read_edges(
        self, callers: list[int], lists: list[Any], callee_of: dict[int, int], shared: set[int]
    ) -> None:
        """The edges out of each calling entry (`lists`, its function `callers`): the entries
        of a shared label add theirs up, in their order."""
        if not lists:
            return
        callees, counts, recursive, cumulative, _inline = zip(
            *itertools.chain.from_iterable(lists), strict=True
        )
        numbers = list(map(callee_of.get, map(id, callees)))
        edges = list(zip(numbers, map(operator.sub, counts, recursive), cumulative, strict=True))
        ends = list(itertools.accumulate(map(len, lists)))
        spans = list(map(edges.__getitem__, map(slice, itertools.chain((0,), ends), ends)))
        called = set(numbers)
        if None in called:  # calls into a code object whose label another one took, or with no entry
            called.discard(None)
            nones = itertools.compress(itertools.count(), map(operator.is_, numbers, itertools.repeat(None)))
            for broken in set(map(bisect.bisect_right, itertools.repeat(ends), nones)):
                spans[broken] = [edge for edge in spans[broken] if edge[0] is not None]
        self.called = cast(set[int], called)
        # A span's callees are distinct functions: ordered by number alone, as by the whole edge.
        by_callee = functools.partial(sorted, key=_CALLEE)
        self.children = dict(zip(callers, map(by_callee, cast(list[list[Edge]], spans)), strict=True))
        if shared:
            merged: dict[int, dict[int, tuple[int, float]]] = {}
            in_shared = list(map(shared.__contains__, callers))
            for caller, span in zip(
                itertools.compress(callers, in_shared),
                itertools.compress(cast(list[list[Edge]], spans), in_shared),
                strict=True,
            ):
                totals = merged.setdefault(caller, {})
                for callee, primitive, total in span:
                    before = totals.get(callee)
                    if before is not None:
                        primitive += before[0]
                        total += before[1]
                    totals[callee] = (primitive, total)
            for caller, totals in merged.items():
                self.children[caller] = sorted((callee, *edge) for callee, edge in totals.items())


class _Builder:
    def __init__(
        self,
        functions: _Functions,
        profiled_files: frozenset[str],
        min_fraction: float,
        max_nodes: int,
        max_depth: int,
    ) -> None:
        self.profiled_files = profiled_files
        self.labels = labels = functions.labels
        self.calls = functions.calls
        self.inline = functions.inline
        self.cumulative = functions.cumulative
        self.children = functions.children
        self.called = functions.called
        self.absorbed = functions.absorbed
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.layer_seconds: dict[str, float] = dict.fromkeys(LAYERS, 0.0)
        self.nodes = 0
        self.truncated = False
        self.min_seconds = 0.0
        self.min_fraction = min_fraction
        self.wall_s: Optional[float] = None
        # What depends on a function's file alone is worked out once per file.
        files = list(map(_FILE, labels))
        self.kinds: dict[str, str] = {}
        classifiers: dict[str, Callable[[str], Optional[str]]] = {}
        for file in dict.fromkeys(files):
            self.kinds[file] = _kind(file, profiled_files)
            classifiers[file] = file_classifier(file)
        names = list(map(_NAME, labels))
        self.layers: list[Optional[str]] = list(
            map(operator.call, map(classifiers.__getitem__, files), names)
        )
        hidden_files = {file for file in self.kinds if file.startswith(_CAPTURE_DIR)}
        self.hidden = list(map(hidden_files.__contains__, files))
        if "~" in self.kinds:
            for number in itertools.compress(itertools.count(), map("~".__eq__, files)):
                self.hidden[number] = names[number] in _HIDDEN_BUILTINS
        self.on_path = [False] * len(labels)
        """Whether each function is on the path being expanded (a recursion is not followed)."""

    # -- expansion ----------------------------------------------------------------------

    def roots(self, direct_calls: bool) -> list[int]:
        """Entry points of the profiled code.

        The profiled files' module-level code and, with `direct_calls` (a `with` block,
        whose own frame was running before profiling started), the functions it called
        directly; then any profiled function not reachable from those (a coroutine of the
        cell run by the event loop), so that nothing is counted twice.
        """
        labels = self.labels
        count = len(labels)
        absorbed = self.absorbed
        profiled = [
            number
            for number in itertools.compress(
                range(count), map(self.profiled_files.__contains__, map(_FILE, labels))
            )
            if number not in absorbed
        ]
        primary_set = {number for number in profiled if labels[number][2] == "<module>"}
        if direct_calls:
            primary_set.update(itertools.filterfalse(self.called.__contains__, range(count)))
            primary_set -= absorbed
        primary = sorted(primary_set)
        candidates = [number for number in profiled if number not in primary_set]
        secondary: list[int] = []
        if candidates:
            reachable = set(primary)
            pending = list(primary)
            while pending:
                for child, _calls, _total in self.children.get(pending.pop(), ()):
                    if child not in reachable:
                        reachable.add(child)
                        pending.append(child)
            secondary = [number for number in candidates if number not in reachable]
        return sorted(primary + secondary, key=lambda number: labels[number][:2])

    def build(self, direct_calls: bool) -> Optional[CallNode]:
        hidden = self.hidden
        roots = [number for number in self.roots(direct_calls) if not hidden[number]]
        if not roots:
            return None
        total = sum(map(self.cumulative.__getitem__, roots))
        # A root total of zero (clock granularity on a tiny cell) must not disable pruning.
        self.min_seconds = max(total, sum(self.inline)) * self.min_fraction
        children: list[CallNode] = []
        for number in roots:
            self.expand(number, self.calls[number], self.cumulative[number], "python", 1, children)
        children.sort(key=_TOTAL, reverse=True)
        calls = sum(n.calls for n in children)
        total = max(total, sum(map(_TOTAL, children)))
        if self.wall_s is not None:
            total = min(total, self.wall_s)
        return CallNode(
            name="<profiled code>",
            file="",
            line=0,
            calls=calls,
            total_s=total,
            self_s=max(total - sum(map(_TOTAL, children)), 0.0),
            children=tuple(children),
            layer="python",
            kind="cell",
        )

    def expand(
        self, number: int, calls: float, total: float, parent_layer: str, depth: int, into: list[CallNode]
    ) -> None:
        """Add to `into` the nodes for function `number` entered with `total` seconds: one
        node, or its children if it is hidden."""
        cumulative = self.cumulative[number]
        scale = total / cumulative if cumulative > 0 else 0.0
        layer = self.layers[number] or parent_layer
        self_s = self.inline[number] * scale
        layer_seconds = self.layer_seconds
        layer_seconds[layer] += self_s
        self.nodes += 1
        hidden = self.hidden[number]
        child_nodes = into if hidden else []
        pruned = 0.0
        edges = self.children.get(number)
        if edges:
            on_path = self.on_path
            on_path[number] = True
            layers = self.layers
            min_seconds = self.min_seconds
            for child, edge_calls, edge_total in edges:
                if on_path[child]:
                    continue
                child_total = edge_total * scale
                too_small = child_total < min_seconds
                if too_small or depth >= self.max_depth or self.nodes >= self.max_nodes:
                    self.truncated = self.truncated or not too_small
                    layer_seconds[layers[child] or layer] += child_total
                    pruned += child_total
                    continue
                self.expand(child, edge_calls * scale, child_total, layer, depth + 1, child_nodes)
            on_path[number] = False
        if hidden:
            return
        if len(child_nodes) > 1:
            child_nodes.sort(key=_TOTAL, reverse=True)
        if depth == 1:
            # cProfile under-counts the cell's module-level code (one code name for every
            # top-level statement, the first entered before profiling started): an entry
            # point is never smaller than what was measured below it.
            total = max(total, self_s + pruned + sum(map(_TOTAL, child_nodes)))
        file, line, name = self.labels[number]
        # name, file, line, calls, total_s, self_s, children, layer, kind
        into.append(
            CallNode.of(
                name,
                "" if file == "~" else file,
                line,
                max(round(calls), 1),
                total,
                self_s,
                tuple(child_nodes),
                layer,
                self.kinds[file],
            )
        )


def _kind(file: str, profiled_files: frozenset[str]) -> str:
    if file == "~":
        return "builtin"
    if file in profiled_files:
        return "cell"
    normalized = file.replace("\\", "/")
    if "/sqlalchemy/" in normalized:
        return "sqlalchemy"
    if file.startswith(_STDLIB_DIR) and "site-packages" not in normalized:
        return "stdlib"
    return "library"


def build_call_graph(
    profiler: cProfile.Profile,
    profiled_files: frozenset[str] = frozenset(),
    direct_calls: bool = False,
    min_fraction: float = 1e-4,
    max_nodes: int = 100_000,
    max_depth: int = 200,
    wall_s: Optional[float] = None,
) -> CallGraph:
    """The call tree and per-layer seconds of a finished cProfile run.

    `direct_calls`: the profiled frame was already running when profiling started (a
    `with profile()` block), so its calls appear without a caller.  `wall_s` bounds the
    root's total (what was measured cannot exceed the time the profile ran).
    """
    # Both steps allocate an object or more per function and node, and nothing they make
    # is garbage: paused, the cycle collector does not rescan the growing heap meanwhile
    # (a 100k-node tree built in less than half the time).
    with collector_paused():
        profiler.disable()
        builder = _Builder(
            _Functions(profiler.getstats()),
            profiled_files,
            min_fraction,
            max_nodes,
            max(1, min(max_depth, sys.getrecursionlimit() // 4)),
        )
        builder.wall_s = wall_s
        tree = builder.build(direct_calls)
    return CallGraph(
        tree=tree, layer_seconds=builder.layer_seconds, nodes=builder.nodes, truncated=builder.truncated
    )
