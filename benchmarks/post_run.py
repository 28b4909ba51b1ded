"""The cost after the profiled code, and what a streamed load holds, for overhead.py's workloads.

`post` is the work from the profiled block's last line to the finished report (findings
included, EXPLAIN off, rewrites not read), in CPU seconds of this process (best of
--runs, which a loaded machine moves less than wall time), beside the bare run's;
`rewrites` is then reading every finding's rewrite, which the views and `to_json` do.
Besides overhead.py's workloads: 100k objects streamed with `yield_per(1000)`, and an
N+1 plus a `len(q.all())` at the end of a 370-line module (the rules read, and the
rewrites render, the whole file).  Then the peak of traced memory during the streamed
load (tracemalloc; the profile without its own memory tracing, which would nest) and
the peak the report shows.

    python benchmarks/post_run.py [--runs 5]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import textwrap
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import overhead  # noqa: E402 - the workloads live there

from sqla_magic import demo, profile  # noqa: E402

STREAMED = "stream 100k objects (yield_per 1000)"


def _streamed(engine: sa.engine.Engine, models: demo.DemoModels) -> Callable[[], object]:
    query = sa.select(models.Book).execution_options(yield_per=1000)

    def run() -> object:
        with Session(engine) as session:
            return sum(book.pages for book in session.scalars(query))

    return run


def _streaming_library() -> tuple[sa.engine.Engine, demo.DemoModels]:
    engine = sa.create_engine("sqlite://")
    models = demo.declare()
    demo.populate(engine, models, authors=5000, books_per_author=20)
    return engine, models


_MODULE = """
def run(engine, models):
    block = profile(explain=False)
    block.__enter__()
    with Session(engine) as session:
        authors = session.query(models.Author).limit(100).all()
        pages = [len(author.books) for author in authors]
        count = len(session.query(models.Book).limit(2000).all())
    return block
"""


def _module(directory: Path) -> tuple[Callable[..., Any], int]:
    """A 370-line module whose last function profiles an N+1 and a len(all()) (its own file)."""
    filler = "".join(f"def helper_{i}(value):\n    return value + {i}\n\n\n" for i in range(90))
    text = "from sqlalchemy.orm import Session\nfrom sqla_magic import profile\n\n\n" + filler
    text += textwrap.dedent(_MODULE)
    path = directory / "big_module.py"
    path.write_text(text)
    namespace: dict[str, Any] = {"__name__": "big_module"}
    exec(compile(text, str(path), "exec"), namespace)
    return namespace["run"], len(text.splitlines())


def _workloads(directory: Path) -> Iterator[tuple[str, Callable[[], Any], Callable[[], object]]]:
    """(name, start a profiled run and return its open block, the bare run)."""

    def opened(run: Callable[[], object]) -> Callable[[], Any]:
        def start() -> Any:
            block = profile(explain=False)
            block.__enter__()
            run()
            return block

        return start

    with overhead.library("sqlite://") as (engine, models):
        for name, make in overhead.WORKLOADS.items():
            run = make(engine, models)
            yield name, opened(run), run
        module_run, lines = _module(directory)
        yield (
            f"N+1 + len(all()) in a {lines}-line module",
            lambda: module_run(engine, models),
            lambda: None,
        )
    streamed = _streamed(*_streaming_library())
    yield STREAMED, opened(streamed), streamed


def _cpu(work: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    started = time.process_time()
    result = work()
    return time.process_time() - started, result


def _measure(runs: int) -> None:
    print("| workload | bare | post | post / bare | reading the rewrites | findings |")
    print("|---|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as directory:
        for name, start, bare in _workloads(Path(directory)):
            bare()
            warm = start()
            warm.__exit__(None, None, None)
            [f.rewrite for f in warm.report.findings]
            bares, posts, reads = [], [], []
            rules = ""
            for _ in range(runs):
                bares.append(_cpu(bare)[0])
                block = start()
                posts.append(_cpu(lambda block=block: block.__exit__(None, None, None))[0])
                reads.append(_cpu(lambda block=block: [f.rewrite for f in block.report.findings])[0])
                rules = ", ".join(sorted({f.rule for f in block.report.findings})) or "-"
            best_bare, post = min(bares), min(posts)
            shown_bare = f"{best_bare * 1e3:.0f} ms" if best_bare > 1e-3 else "-"
            ratio = f"{post / best_bare:.2f}" if best_bare > 1e-3 else "-"
            read = min(reads) * 1e3
            print(f"| {name} | {shown_bare} | {post * 1e3:.1f} ms | {ratio} | {read:.1f} ms | {rules} |")


def _traced_peak(run: Callable[[], object], **options: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        if options:
            with profile(**options):
                run()
        else:
            run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _memory() -> None:
    streamed = _streamed(*_streaming_library())
    streamed()
    print(f"\n{STREAMED}: peak memory during the load\n")
    print("| run | peak |")
    print("|---|---:|")
    for label, options in (
        ("bare (traced)", {}),
        ("capture only (traced)", {"call_tree": False, "memory": False, "explain": False, "findings": False}),
        ("default without memory tracing (traced)", {"memory": False, "explain": False}),
    ):
        peak = min(_traced_peak(streamed, **options) for _ in range(2))
        print(f"| {label} | {peak / 2**20:.1f} MiB |")
    with profile(explain=False) as report:
        streamed()
    shown = report.memory.peak_bytes / 2**20 if report.memory is not None else float("nan")
    print(f"| default: the peak the report shows | {shown:.1f} MiB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    _measure(args.runs)
    _memory()


if __name__ == "__main__":
    main()
