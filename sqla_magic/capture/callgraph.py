"""The cumulative call tree of the profiled code, from cProfile's caller/callee statistics.

cProfile keeps, per function, its totals and the totals of each caller→callee edge, not
whole stacks.  The tree is expanded from the profiled code's own entry points: a child
gets its edge's time, scaled by the share of the parent's time its node represents (as
snakeviz and gprof2dot do).  Branches below `min_fraction` of the total are cut and their
time kept in their parent's layer, so layer sums stay whole.  Frames of this package
are spliced out: their children hang from the profiled caller.
"""

from __future__ import annotations

import cProfile
import gc
import os
import sys
import sysconfig
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Optional

from sqla_magic.capture.layers import classify
from sqla_magic.model import LAYERS, CallNode

Key = tuple[str, int, str]

_CAPTURE_DIR = os.path.dirname(os.path.abspath(__file__))
"""The profiler's own frames (the cursor stand-in, `profile.__exit__`) live here."""
_STDLIB_DIR = sysconfig.get_paths()["stdlib"]
_HIDDEN_BUILTINS = ("<method 'disable' of '_lsprof.Profiler' objects>",)


@dataclass
class CallGraph:
    tree: Optional[CallNode]
    layer_seconds: dict[str, float] = field(default_factory=dict)
    nodes: int = 0
    truncated: bool = False


class _Builder:
    def __init__(
        self,
        stats: dict[Key, Any],
        profiled_files: frozenset[str],
        min_fraction: float,
        max_nodes: int,
        max_depth: int,
    ) -> None:
        self.stats = stats
        self.profiled_files = profiled_files
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.children: dict[Key, list[Key]] = defaultdict(list)
        for callee, (_cc, _nc, _tt, _ct, callers) in stats.items():
            for caller in callers:
                self.children[caller].append(callee)
        self.layer_seconds: dict[str, float] = dict.fromkeys(LAYERS, 0.0)
        self.nodes = 0
        self.truncated = False
        self.min_seconds = 0.0
        self.min_fraction = min_fraction
        self._layers: dict[Key, Optional[str]] = {}
        self._kinds: dict[Key, str] = {}
        self.wall_s: Optional[float] = None

    # -- classification -------------------------------------------------------------

    def layer_of(self, key: Key) -> Optional[str]:
        if key not in self._layers:
            self._layers[key] = classify(key[0], key[2])
        return self._layers[key]

    def kind_of(self, key: Key) -> str:
        kind = self._kinds.get(key)
        if kind is None:
            kind = self._kinds[key] = _kind(key[0], self.profiled_files)
        return kind

    @staticmethod
    def hidden(key: Key) -> bool:
        file = key[0]
        return file.startswith(_CAPTURE_DIR) or (file == "~" and key[2] in _HIDDEN_BUILTINS)

    # -- expansion ----------------------------------------------------------------------

    def roots(self, direct_calls: bool) -> list[Key]:
        """Entry points of the profiled code.

        The profiled files' module-level code and, with `direct_calls` (a `with` block,
        whose own frame was running before profiling started), the functions it called
        directly; then any profiled function not reachable from those (a coroutine of the
        cell run by the event loop), so that nothing is counted twice.
        """
        primary = [
            key
            for key, value in self.stats.items()
            if (key[0] in self.profiled_files and key[2] == "<module>") or (direct_calls and not value[4])
        ]
        reachable = set(primary)
        pending = list(primary)
        while pending:
            for child in self.children.get(pending.pop(), ()):
                if child not in reachable:
                    reachable.add(child)
                    pending.append(child)
        secondary = [key for key in self.stats if key[0] in self.profiled_files and key not in reachable]
        return sorted(primary + secondary, key=lambda k: (k[0], k[1]))

    def build(self, direct_calls: bool) -> Optional[CallNode]:
        roots = [k for k in self.roots(direct_calls) if not self.hidden(k)]
        if not roots:
            return None
        total = sum(self.stats[k][3] for k in roots)
        # A root total of zero (clock granularity on a tiny cell) must not disable pruning.
        self.min_seconds = max(total, sum(v[2] for v in self.stats.values())) * self.min_fraction
        children: list[CallNode] = []
        for key in roots:
            _cc, nc, _tt, ct, _callers = self.stats[key]
            children.extend(self.expand(key, nc, ct, "python", (key,), 1))
        children.sort(key=lambda n: n.total_s, reverse=True)
        calls = sum(n.calls for n in children)
        total = max(total, sum(n.total_s for n in children))
        if self.wall_s is not None:
            total = min(total, self.wall_s)
        return CallNode(
            name="<profiled code>",
            file="",
            line=0,
            calls=calls,
            total_s=total,
            self_s=max(total - sum(n.total_s for n in children), 0.0),
            children=tuple(children),
            layer="python",
            kind="cell",
        )

    def expand(
        self, key: Key, calls: float, total: float, parent_layer: str, path: tuple[Key, ...], depth: int
    ) -> list[CallNode]:
        """The nodes for `key` entered with `total` seconds: one node, or its children if hidden."""
        _cc, _nc, tt, ct, _callers = self.stats[key]
        scale = total / ct if ct > 0 else 0.0
        layer = self.layer_of(key) or parent_layer
        self_s = tt * scale
        self.layer_seconds[layer] += self_s
        self.nodes += 1
        child_nodes: list[CallNode] = []
        pruned = 0.0
        for child in self.children.get(key, ()):
            if child in path:
                continue
            edge = self.stats[child][4][key]
            child_total = edge[3] * scale
            child_calls = edge[1] * scale
            too_small = child_total < self.min_seconds
            if too_small or depth >= self.max_depth or self.nodes >= self.max_nodes:
                self.truncated = self.truncated or not too_small
                self.layer_seconds[self.layer_of(child) or layer] += child_total
                pruned += child_total
                continue
            child_nodes.extend(self.expand(child, child_calls, child_total, layer, (*path, child), depth + 1))
        if self.hidden(key):
            return child_nodes
        child_nodes.sort(key=lambda n: n.total_s, reverse=True)
        if depth == 1:
            # cProfile under-counts the cell's module-level code (one code name for every
            # top-level statement, the first entered before profiling started): an entry
            # point is never smaller than what was measured below it.
            total = max(total, self_s + pruned + sum(n.total_s for n in child_nodes))
        file, line, name = key
        return [
            CallNode.of(
                name=name,
                file="" if file == "~" else file,
                line=line,
                calls=max(round(calls), 1),
                total_s=total,
                self_s=self_s,
                children=tuple(child_nodes),
                layer=layer,
                kind=self.kind_of(key),
            )
        ]


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
    collecting = gc.isenabled()
    gc.disable()
    try:
        profiler.create_stats()
        stats: dict[Key, Any] = profiler.stats  # type: ignore[attr-defined,unused-ignore]
        builder = _Builder(
            stats,
            profiled_files,
            min_fraction,
            max_nodes,
            max(1, min(max_depth, sys.getrecursionlimit() // 4)),
        )
        builder.wall_s = wall_s
        tree = builder.build(direct_calls)
    finally:
        if collecting:
            gc.enable()
    return CallGraph(
        tree=tree, layer_seconds=builder.layer_seconds, nodes=builder.nodes, truncated=builder.truncated
    )
