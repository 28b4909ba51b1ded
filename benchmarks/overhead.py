"""Profiling overhead: fixed workloads run bare and under `profile()`, alternately, in one process.

Prints, per workload, the median time of each mode and its ratio to the bare median.
Modes: plain cProfile (for comparison), capture only (statements), default (statements +
cProfile + peak memory; the report is built, EXPLAIN is off), default + EXPLAIN, and
per-line memory.

    python benchmarks/overhead.py [--runs 9] [--url sqlite://]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic import demo, profile

PLAIN_CPROFILE = {"plain cProfile": True}
"""Marker options: the run under a bare `cProfile.Profile()`, the usual alternative."""

MODES: dict[str, dict[str, Any] | None] = {
    "bare": None,
    "plain cProfile": PLAIN_CPROFILE,
    "capture only": {"call_tree": False, "memory": False, "explain": False, "findings": False},
    "default": {"explain": False},
    "default + explain": {},
    "memory lines": {"memory_lines": True, "explain": False},
}


def _n_plus_one(engine: sa.engine.Engine, models: demo.DemoModels) -> Callable[[], object]:
    def run() -> object:
        with Session(engine) as session:
            return demo.count_pages_n_plus_one(session, models)

    return run


def _load_20k(engine: sa.engine.Engine, models: demo.DemoModels) -> Callable[[], object]:
    def run() -> object:
        with Session(engine) as session:
            return len(session.query(models.Book).limit(20_000).all())

    return run


def _bulk_insert(engine: sa.engine.Engine, models: demo.DemoModels) -> Callable[[], object]:
    rows = [{"author_id": 1, "title": f"bulk {i}", "pages": i % 700} for i in range(10_000)]

    def run() -> object:
        with engine.connect() as conn:
            transaction = conn.begin()
            conn.execute(models.Book.__table__.insert(), rows)
            transaction.rollback()
        return len(rows)

    return run


def _short_selects(engine: sa.engine.Engine, models: demo.DemoModels) -> Callable[[], object]:
    def run() -> object:
        with engine.connect() as conn:
            stmt = sa.select(models.Author.name).where(models.Author.id == sa.bindparam("id"))
            return [conn.execute(stmt, {"id": i % 300 + 1}).scalar() for i in range(1000)]

    return run


WORKLOADS = {
    "N+1 (300 parents x 20)": _n_plus_one,
    "load 20k objects": _load_20k,
    "bulk insert 10k rows": _bulk_insert,
    "1k short selects": _short_selects,
}


def _timed(run: Callable[[], object], options: dict[str, Any] | None) -> float:
    gc.collect()
    start = time.perf_counter()
    if options is None:
        run()
    elif options is PLAIN_CPROFILE:
        profiler = cProfile.Profile()
        profiler.enable()
        run()
        profiler.disable()
        profiler.create_stats()
    else:
        with profile(**options):
            run()
    return time.perf_counter() - start


def measure(url: str, runs: int, modes: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    models = demo.declare("bench_")
    models.metadata.drop_all(engine)
    demo.populate(engine, models, authors=1000, books_per_author=20)
    results = []
    try:
        for name, make in WORKLOADS.items():
            run = make(engine, models)
            run()  # warm caches and mappers
            times: dict[str, list[float]] = {mode: [] for mode in modes}
            for _ in range(runs):
                for mode, options in modes.items():
                    times[mode].append(_timed(run, options))
            bare = statistics.median(times["bare"])
            for mode in modes:
                median = statistics.median(times[mode])
                results.append({"workload": name, "mode": mode, "median_s": median, "ratio": median / bare})
    finally:
        models.metadata.drop_all(engine)
        engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--url", default="sqlite://")
    args = parser.parse_args()
    print(
        f"# {platform.node()} | Python {platform.python_version()} | SQLAlchemy {sa.__version__} | "
        f"{sa.engine.make_url(args.url).get_backend_name()} | median of {args.runs} alternating runs | "
        f"{time.strftime('%Y-%m-%d')}"
    )
    print(f"| {'workload':<26} | {'mode':<18} | {'median':>9} | {'ratio':>6} |")
    print(f"|{'-' * 28}|{'-' * 20}|{'-' * 11}|{'-' * 8}|")
    for row in measure(args.url, args.runs, MODES):
        median_ms = row["median_s"] * 1000
        print(f"| {row['workload']:<26} | {row['mode']:<18} | {median_ms:7.1f}ms | {row['ratio']:5.2f}x |")


if __name__ == "__main__":
    main()
