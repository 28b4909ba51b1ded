"""Profiling overhead: fixed workloads run bare and under `profile()`, alternately, in one process.

Prints, per workload, the median time of each mode, the median of its ratios to paired
bare runs, and the ratio of the fastest runs.
Modes: capture only (statements), default (statements + cProfile + peak memory, report
built), default + findings, default + findings + EXPLAIN, per-line memory; with `--peers`
also a `sys.setprofile` hook that does nothing, plain cProfile, pyinstrument and sqltap.
Then the Python calls the default mode adds, an exact count that, unlike times, does not
move with the load of a shared machine.

    python benchmarks/overhead.py [--runs 9] [--url sqlite://]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import gc
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sqla_magic import demo, profile
from sqla_magic.capture.run import Options, Profiler

MODES: dict[str, Any] = {
    "bare": None,
    "capture only": {"call_tree": False, "memory": False, "explain": False, "findings": False},
    "default": {"explain": False, "findings": False},
    "default + findings": {"explain": False},
    "default + findings + EXPLAIN": {},
    "memory lines": {"memory_lines": True, "explain": False, "findings": False},
}
"""`default` is what the magic always records: statements, cProfile call tree and layers,
peak memory.  Findings and EXPLAIN are analysis after the run, shown separately."""


def _n_plus_one(engine: sa.engine.Engine, models: demo.DemoModels) -> Callable[[], object]:
    """300 authors, then one lazy load of their 20 books each."""
    query = sa.select(models.Author).order_by(models.Author.id).limit(300)

    def run() -> object:
        with Session(engine) as session:
            return sum(book.pages for author in session.scalars(query) for book in author.books)

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


def _short_selects(
    engine: sa.engine.Engine, models: demo.DemoModels, count: int = 1000
) -> Callable[[], object]:
    def run() -> object:
        with engine.connect() as conn:
            stmt = sa.select(models.Author.name).where(models.Author.id == sa.bindparam("id"))
            return [conn.execute(stmt, {"id": i % 300 + 1}).scalar() for i in range(count)]

    return run


SCALED = ("1k short selects", "5k short selects", functools.partial(_short_selects, count=5000))
"""A workload run again with five times the statements: what one more statement costs."""

WORKLOADS = {
    "N+1 (300 parents x 20)": _n_plus_one,
    "load 20k objects": _load_20k,
    "bulk insert 10k rows": _bulk_insert,
    "1k short selects": _short_selects,
}


def _plain_cprofile(run: Callable[[], object]) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    profiler.create_stats()


def _empty_setprofile_hook(run: Callable[[], object]) -> None:
    """A `sys.setprofile` hook that does nothing (`slice` is a C callable that takes the
    hook's three arguments): what any profiler written against `sys.setprofile` pays
    before its own work.  cProfile's hook is set from C and skips the argument tuple,
    so it can cost less; instructions.py measures that floor with an empty C hook."""
    sys.setprofile(slice)
    try:
        run()
    finally:
        sys.setprofile(None)


def _pyinstrument(run: Callable[[], object]) -> None:
    from pyinstrument import Profiler

    profiler = Profiler()
    profiler.start()
    run()
    profiler.stop()
    profiler.last_session  # noqa: B018 - the session is what a user would read


def _sqltap(run: Callable[[], object]) -> None:
    import sqltap

    had_events = Engine._has_events
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SADeprecationWarning)  # its 1.3-style listeners
        profiler = sqltap.start()
        run()
        profiler.collect()
        profiler.stop()
    # Its listeners are gone, but SQLAlchemy leaves the class's "has events" flag on,
    # which would slow every run measured after this one, the bare ones included.
    Engine._has_events = had_events


PEERS: dict[str, Callable[[Callable[[], object]], None]] = {
    "empty sys.setprofile hook": _empty_setprofile_hook,
    "plain cProfile": _plain_cprofile,
    "pyinstrument": _pyinstrument,
    "sqltap": _sqltap,
}
"""What users would run instead; each is measured only where it imports.  (nplusone is not
among them: it patches SQLAlchemy for the rest of the process on import, which would
slow every other mode measured after it; see detection.py for what it finds.)"""


def available_peers() -> dict[str, Callable[[Callable[[], object]], None]]:
    found = {}
    for name, runner in PEERS.items():
        module = {"pyinstrument": "pyinstrument", "sqltap": "sqltap"}.get(name)
        if module is not None:
            try:
                __import__(module)
            except ImportError:
                continue
        found[name] = runner
    return found


def run_in_mode(run: Callable[[], object], mode: Any) -> None:
    """Run a workload bare (None), under a peer (a callable) or under `profile(**mode)`."""
    if mode is None:
        run()
    elif callable(mode):
        mode(run)
    else:
        with profile(**mode):
            run()


def _timed(run: Callable[[], object], mode: Any) -> float:
    gc.collect()
    start = time.perf_counter()
    run_in_mode(run, mode)
    return time.perf_counter() - start


@contextlib.contextmanager
def library(url: str) -> Iterator[tuple[Engine, demo.DemoModels]]:
    """The workloads' database: 1000 authors with 20 books each, dropped afterwards."""
    engine = sa.create_engine(url)
    models = demo.declare("bench_")
    models.metadata.drop_all(engine)
    demo.populate(engine, models, authors=1000, books_per_author=20)
    try:
        yield engine, models
    finally:
        models.metadata.drop_all(engine)
        engine.dispose()


def measure(url: str, runs: int, modes: dict[str, Any]) -> list[dict[str, Any]]:
    """Median seconds and ratio to bare per workload and mode; modes run alternately."""
    results = []
    with library(url) as (engine, models):
        for name, make in WORKLOADS.items():
            run = make(engine, models)
            run()  # warm caches and mappers
            times: dict[str, list[float]] = {mode: [] for mode in modes}
            ratios: dict[str, list[float]] = {mode: [] for mode in modes}
            for _ in range(runs):
                for mode, options in modes.items():
                    if options is None:
                        continue
                    # Each run is paired with a bare run just before it: on a shared
                    # machine whose speed drifts, the pair sees the same speed.
                    bare = _timed(run, None)
                    profiled = _timed(run, options)
                    times["bare"].append(bare)
                    times[mode].append(profiled)
                    ratios[mode].append(profiled / bare)
            best_bare = min(times["bare"])
            for mode in modes:
                results.append(
                    {
                        "workload": name,
                        "mode": mode,
                        "median_s": statistics.median(times[mode]),
                        "ratio": statistics.median(ratios[mode]) if ratios[mode] else 1.0,
                        "best_ratio": min(times[mode]) / best_bare,
                    }
                )
    return results


def _python_calls(profiler: cProfile.Profile) -> int:
    return sum(entry.callcount for entry in profiler.getstats())


def added_calls(url: str) -> list[dict[str, Any]]:
    """Python calls the default mode adds to each workload, counted by its own cProfile.

    Unlike times, these counts repeat exactly from run to run on a busy machine, and each
    added call is a frame cProfile times: they show what capture costs under the profiler.
    """
    rows = []
    with library(url) as (engine, models):
        for name, make in WORKLOADS.items():
            run = make(engine, models)
            run()
            plain = cProfile.Profile(builtins=False)
            plain.enable()
            run()
            plain.disable()
            profiler = Profiler(Options(explain=False, findings=False), (__file__,))
            profiler.start()
            run()
            assert profiler._cprofile is not None
            profiler._cprofile.disable()
            profiled = _python_calls(profiler._cprofile)
            report = profiler.stop().report
            rows.append(
                {
                    "workload": name,
                    "workload_calls": _python_calls(plain),
                    "added_calls": profiled - _python_calls(plain),
                    "statements": len(report.statements),
                    "objects": sum(report.objects_loaded.values()),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--url", default="sqlite://")
    parser.add_argument(
        "--peers", action="store_true", help="also measure cProfile, pyinstrument, sqltap, nplusone"
    )
    parser.add_argument(
        "--modes", nargs="+", metavar="MODE", help=f"only these modes (bare always): {', '.join(MODES)}"
    )
    args = parser.parse_args()
    modes = dict(MODES)
    if args.modes:
        unknown = set(args.modes) - set(MODES)
        if unknown:
            parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
        modes = {name: options for name, options in MODES.items() if name == "bare" or name in args.modes}
    if args.peers:
        modes.update(available_peers())
    print(
        f"{platform.node()} | Python {platform.python_version()} | SQLAlchemy {sa.__version__} | "
        f"{sa.engine.make_url(args.url).get_backend_name()} | "
        f"{args.runs} runs, each paired with a bare run | "
        f"{time.strftime('%Y-%m-%d')}"
    )
    print(f"| {'workload':<26} | {'mode':<30} | {'median':>9} | {'ratio':>6} | {'best':>6} |")
    print(f"|{'-' * 28}|{'-' * 32}|{'-' * 11}|{'-' * 8}|{'-' * 8}|")
    for row in measure(args.url, args.runs, modes):
        median_ms = row["median_s"] * 1000
        print(
            f"| {row['workload']:<26} | {row['mode']:<30} | {median_ms:7.1f}ms | {row['ratio']:5.2f}x "
            f"| {row['best_ratio']:5.2f}x |"
        )
    print(
        "\n*ratio*: median over the runs of each run's time over its paired bare run's; "
        "*best*: fastest run over fastest bare run."
    )
    print("\nPython calls the default mode adds to the workload's own (cProfile's count, exact):\n")
    print("| workload | workload calls | added | statements | ORM objects | per statement |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in added_calls(args.url):
        # One added call per ORM object: SQLAlchemy's dispatch of the `load` event.
        per_statement = (row["added_calls"] - row["objects"]) / max(row["statements"], 1)
        print(
            f"| {row['workload']} | {row['workload_calls']:,} | {row['added_calls']:,} | "
            f"{row['statements']:,} | {row['objects']:,} | {per_statement:.1f} |"
        )


if __name__ == "__main__":
    main()
