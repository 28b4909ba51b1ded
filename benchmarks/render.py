"""Rendering cost of a large report: the notebook view, its tab requests, and the text/HTML renderers.

The report is built by hand: 20k statements (one N+1 shape with 15k executions, 5k
single executions of distinct shapes), a 100k-node call tree, 40 findings, memory lines
and plans.  Opening the view costs building the widget plus the mime bundle (which also
carries the static HTML and text renderings); each tab is a request answered when the
user opens it.  Times are the best of --runs, in kernel time (no browser involved).

    python benchmarks/render.py [--runs 5] [--statements 20000] [--nodes 100000]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any

from sqla_magic.model import (
    CallNode,
    Finding,
    Memory,
    MemoryLine,
    Plan,
    PlanNode,
    PlanWarning,
    Report,
    Rewrite,
    Statement,
)
from sqla_magic.render.html import render_fragment
from sqla_magic.render.text import render_text
from sqla_magic.render.view_model import ReportView

LAZY_SQL = (
    "SELECT book.id AS book_id, book.author_id AS book_author_id, book.title AS book_title "
    "FROM book WHERE ? = book.author_id"
)


def build_report(statements: int, nodes: int) -> Report:
    repeated = statements * 3 // 4
    executions = [
        Statement(
            sql=LAZY_SQL if i < repeated else f"SELECT t{i}.a, t{i}.b FROM t{i} WHERE t{i}.c = ?",
            params=(i,),
            duration_s=0.0001 + (i % 13) * 1e-5,
            rowcount=-1,
            executemany=False,
            fingerprint="lazy" if i < repeated else f"shape{i}",
            cache="cached" if i % 50 else "generated",
            line=5,
            origin="lazy load Author.books" if i < repeated else "core",
            engine="sqlite:///demo.db",
            thread="MainThread",
            rows=5,
            start_s=i * 1e-4,
        )
        for i in range(statements)
    ]
    cell = "%%sqlprofile\nauthors = session.query(Author).all()\nfor a in authors:\n    len(a.books)\n"
    rewrite = Rewrite(
        cell, cell.replace(".all()", ".options(selectinload(Author.books)).all()"), "selectinload"
    )
    findings = tuple(
        Finding(
            "n-plus-one",
            ("high", "medium", "low")[i % 3],
            f"Finding {i}",
            "Author.books was lazy loaded 15,000 times.",
            (2, 4),
            tuple(range(0, repeated, 7)),
            rewrite,
        )
        for i in range(40)
    )
    plan = Plan(
        "lazy",
        "sqlite",
        False,
        PlanNode(
            "QUERY PLAN", children=(PlanNode("SCAN book", table="book", filter_columns=("author_id",)),)
        ),
        (PlanWarning("seq-scan", "full scan of book", "book", ("author_id",)),),
        statement=1,
        sql=LAZY_SQL,
    )
    return Report(
        wall_s=4.0,
        cpu_s=3.8,
        statements=tuple(executions),
        layers={
            "database": 1.0,
            "fetch": 0.3,
            "compile": 0.2,
            "orm_load": 1.2,
            "mapper_config": 0.1,
            "python": 1.2,
        },
        call_tree=build_tree(nodes),
        memory=Memory(
            50_000_000,
            tuple(MemoryLine(n, 1000 * n, 10_000 * n, f"line {n}") for n in range(1, 200)),
            "tracemalloc",
        ),
        plans=(plan,) * 20,
        findings=findings,
        source=cell,
        objects_loaded={"Author": 3000, "Book": 15000},
    )


def build_tree(nodes: int) -> CallNode:
    """A tree of about `nodes` distinct nodes: a hot path 3 levels deep, wide below it.

    Every node is its own object, as in a captured tree (renderers key nodes by identity).
    """
    fanout = 10
    per_branch = max(nodes // (fanout * fanout), 1)
    sa = "/site-packages/sqlalchemy"

    def leaves() -> tuple[CallNode, ...]:
        return tuple(
            CallNode(f"leaf{i}", f"{sa}/sql/compiler.py", i, 1, 1e-6 * (per_branch - i), 1e-6)
            for i in range(per_branch)
        )

    def mids() -> tuple[CallNode, ...]:
        return tuple(
            CallNode(
                f"mid{m}",
                f"{sa}/orm/loading.py",
                m,
                10,
                0.01 * (fanout - m),
                0.0,
                children=leaves(),
                kind="sqlalchemy",
                layer="orm_load",
            )
            for m in range(fanout)
        )

    tops = tuple(
        CallNode(f"top{t}", f"{sa}/orm/query.py", t, 1, 0.3 * (fanout - t), 0.0, children=mids())
        for t in range(fanout)
    )
    module = CallNode("<module>", "/tmp/ipykernel_1/1.py", 1, 1, 4.0, 0.0, children=tops, kind="cell")
    return CallNode("<profiled code>", "", 0, 1, 4.0, 0.0, children=(module,), kind="cell")


def best_of(runs: int, action: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--statements", type=int, default=20_000)
    parser.add_argument("--nodes", type=int, default=100_000)
    args = parser.parse_args()

    report = build_report(args.statements, args.nodes)
    nodes = report.call_tree.count() if report.call_tree else 0
    print(
        f"report: {len(report.statements):,} statements, {nodes:,} call-tree nodes, "
        f"{len(report.findings)} findings\n"
    )

    measures: list[tuple[str, Callable[[], Any]]] = [
        ("text renderer (text/plain)", lambda: render_text(report)),
        ("HTML renderer (text/html)", lambda: render_fragment(report)),
        ("view header", lambda: ReportView(report).header()),
    ]
    try:
        from sqla_magic.magic.display import report_bundle
        from sqla_magic.render.widget import report_widget

        measures.append(
            ("open the view: widget + mime bundle", lambda: report_bundle(report, report_widget(report)))
        )
    except ImportError as problem:
        print(f"(widget not measured: {problem})")

    def fresh(
        kind: str, request: dict[str, Any], warm: tuple[tuple[str, dict[str, Any]], ...] = ()
    ) -> Callable[[], Any]:
        def run() -> Any:
            view = ReportView(report)
            for warm_kind, warm_args in warm:
                view.answer(warm_kind, warm_args)
            start = time.perf_counter()
            view.answer(kind, request)
            return time.perf_counter() - start

        return run

    print(f"{'what':<44} {'best ms':>9}")
    for label, action in measures:
        print(f"{label:<44} {best_of(args.runs, action) * 1000:>9.1f}")
    tabs = [
        ("tab Findings", "findings", {}, ()),
        ("tab Statements (first page, groups built)", "groups", {}, ()),
        ("  sort by count", "groups", {"sort": "count"}, (("groups", {}),)),
        ("  next page", "groups", {"page": 1}, (("groups", {}),)),
        ("  executions of the largest group", "executions", {"group": 0}, (("groups", {}),)),
        ("tab Call tree (hot path open)", "tree", {}, ()),
        ("  expand a node", "children", {"node": 2}, (("tree", {}),)),
        ("tab Memory", "memory", {}, ()),
        ("tab EXPLAIN", "explain", {}, ()),
        ("tab ORM cost (walks the whole tree)", "orm", {}, ()),
    ]
    for label, kind, request, warm in tabs:
        run = fresh(kind, request, warm)
        print(f"{label:<44} {min(run() for _ in range(args.runs)) * 1000:>9.1f}")


if __name__ == "__main__":
    main()
