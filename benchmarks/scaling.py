"""How capture and report building scale: statements and call-tree nodes.

- Statements: N short Core selects on SQLite under a capture-only profile; the memory the
  capture holds per statement (tracemalloc, measured while the profile is still open),
  and the time to build the report (`Profiler.stop`, findings and EXPLAIN off), for
  1k / 10k / 100k statements.  Beyond the cap (`max_statements`, 20k by default) the
  capture keeps counting but no longer keeps statements: memory stays bounded.
- Call trees: generated code with 10k / 100k distinct functions, profiled with cProfile,
  turned into the call tree (`build_call_graph`, nothing pruned) and rendered.

    python benchmarks/scaling.py
"""

from __future__ import annotations

import cProfile
import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from sqla_magic.capture.callgraph import build_call_graph
from sqla_magic.capture.run import Options, Profiler
from sqla_magic.model import Report
from sqla_magic.render.html import render_fragment
from sqla_magic.render.text import render_text


def statement_scaling(counts: tuple[int, ...] = (1_000, 10_000, 100_000)) -> list[dict[str, Any]]:
    engine = sa.create_engine("sqlite://")
    stmt = sa.select(sa.literal(1) + sa.bindparam("n"))
    rows = []
    with engine.connect() as conn:
        conn.execute(stmt, {"n": 0}).all()
        for count in counts:
            gc.collect()
            tracemalloc.start()
            profiler = Profiler(Options(call_tree=False, memory=False, explain=False, findings=False))
            profiler.start()
            base = tracemalloc.get_traced_memory()[0]
            for n in range(count):
                conn.execute(stmt, {"n": n}).all()
            held = tracemalloc.get_traced_memory()[0] - base
            tracemalloc.stop()
            started = time.perf_counter()
            report = profiler.stop().report
            build_s = time.perf_counter() - started
            text_s = _timed(lambda r=report: render_text(r))
            html_s = _timed(lambda r=report: render_fragment(r))
            rows.append(
                {
                    "statements": count,
                    "kept": len(report.statements),
                    "dropped": report.dropped_statements,
                    "bytes_per_statement": held / count,
                    "held_mib": held / 2**20,
                    "build_s": build_s,
                    "text_s": text_s,
                    "html_s": html_s,
                }
            )
    engine.dispose()
    return rows


def _generated_tree(functions: int, fanout: int = 10) -> Callable[[], None]:
    """A tree of `functions` distinct functions, each calling its children once."""
    lines = []
    for i in range(functions):
        children = [c for c in range(i * fanout + 1, i * fanout + fanout + 1) if c < functions]
        body = "; ".join(f"f{c}()" for c in children) or "pass"
        lines.append(f"def f{i}():\n    {body}\n")
    namespace: dict[str, Any] = {}
    exec(compile("".join(lines), "<generated tree>", "exec"), namespace)
    return namespace["f0"]  # type: ignore[no-any-return]


def tree_scaling(sizes: tuple[int, ...] = (10_000, 100_000)) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        root = _generated_tree(size)
        profiler = cProfile.Profile()
        profiler.enable()
        root()
        profiler.disable()
        started = time.perf_counter()
        graph = build_call_graph(profiler, direct_calls=True, min_fraction=0.0, max_nodes=200_000)
        build_s = time.perf_counter() - started
        report = Report(wall_s=1.0, cpu_s=1.0, call_tree=graph.tree)
        rows.append(
            {
                "functions": size,
                "nodes": graph.nodes,
                "build_s": build_s,
                "text_s": _timed(lambda r=report: render_text(r)),
                "html_s": _timed(lambda r=report: render_fragment(r)),
            }
        )
    return rows


def _timed(work: Callable[[], object]) -> float:
    gc.collect()
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    print("| statements | kept | dropped | bytes/stmt | held | build | text | html |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in statement_scaling():
        print(
            f"| {row['statements']:,} | {row['kept']:,} | {row['dropped']:,} | "
            f"{row['bytes_per_statement']:,.0f} | {row['held_mib']:.1f} MiB | "
            f"{row['build_s'] * 1e3:.0f} ms | {row['text_s'] * 1e3:.0f} ms | {row['html_s'] * 1e3:.0f} ms |"
        )
    print()
    print("| functions | tree nodes | build | text | html |")
    print("|---:|---:|---:|---:|---:|")
    for row in tree_scaling():
        print(
            f"| {row['functions']:,} | {row['nodes']:,} | {row['build_s'] * 1000:.0f} ms | "
            f"{row['text_s'] * 1000:.0f} ms | {row['html_s'] * 1000:.0f} ms |"
        )


if __name__ == "__main__":
    main()
