"""Saving and reading a report: `Report.to_json` and `Report.from_json` at 1k, 10k and 100k statements.

The report is the one render.py builds by hand (most statements one N+1 shape, the rest
distinct), with a call tree of the size the default pruning keeps (about 1k nodes),
40 findings, memory lines and plans.  Times are the best of --runs; the round trip is
checked to give the same report back.

    python benchmarks/serialisation.py [--runs 5] [--statements 1000 10000 100000] [--nodes 1000]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

from render import build_report

from sqla_magic.model import Report


def _best(action: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--statements", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--nodes", type=int, default=1_000)
    args = parser.parse_args()
    print("| statements | JSON size | to_json | per statement | from_json | per statement |")
    print("|---:|---:|---:|---:|---:|---:|")
    for count in args.statements:
        report = build_report(count, args.nodes)
        text = report.to_json()
        if Report.from_json(text) != report:
            raise SystemExit(f"the round trip of {count} statements changed the report")
        write = _best(report.to_json, args.runs)
        read = _best(lambda: Report.from_json(text), args.runs)  # noqa: B023 - called at once
        print(
            f"| {count:,} | {len(text) / 2**20:.1f} MiB "
            f"| {write * 1e3:,.1f} ms | {write / count * 1e6:.1f} µs "
            f"| {read * 1e3:,.1f} ms | {read / count * 1e6:.1f} µs |"
        )


if __name__ == "__main__":
    main()
