"""Saving and reading a report: `Report.to_json` and `Report.from_json` at 1k, 10k and 100k statements.

The report is the one render.py builds by hand (most statements one N+1 shape, the rest
distinct), with a call tree of the size the default pruning keeps (about 1k nodes),
40 findings, memory lines and plans; each statement has the site and stack a real
capture gives it.  Beside each, the first version of the two (a generic walk of the
dataclasses through `dataclasses.fields` and `typing.get_type_hints`, kept below as the
yardstick), run alternately with the current one in this process: the best CPU time
(`time.process_time`) of --runs each, which a loaded machine moves less than wall time.
The round trip is checked to give the same report back.  With --instructions, each is
counted once (after a warm-up) in CPU instructions under callgrind instead, which the
load does not move at all.

    python benchmarks/serialisation.py [--runs 5] [--statements 1000 10000 100000] [--nodes 1000]
                                       [--instructions]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
import time
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Union

import callgrind
from render import build_report

from sqla_magic.model import FORMAT_VERSION, Report, Site


def _first_to_json(report: Report) -> str:
    return json.dumps(_first_to_plain(report), allow_nan=True)


def _first_to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _first_to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _first_to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_first_to_plain(v) for v in value]
    return value


def _first_from_json(text: str) -> Report:
    return typing.cast(Report, _first_from_plain(Report, json.loads(text)))


_HINTS: dict[type, dict[str, Any]] = {}


def _first_from_plain(kind: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return _first_from_plain(options[0], data) if len(options) == 1 else data
    if origin is tuple:
        (item, *_) = typing.get_args(kind)
        return tuple(_first_from_plain(item, v) for v in data)
    if origin in (Mapping, dict):
        _, item = typing.get_args(kind)
        return {k: _first_from_plain(item, v) for k, v in data.items()}
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = _HINTS.get(kind)
        if hints is None:
            hints = _HINTS[kind] = typing.get_type_hints(kind)
        names = {f.name for f in dataclasses.fields(kind)}
        return kind(**{k: _first_from_plain(hints[k], v) for k, v in data.items() if k in names})
    if kind is Any:
        return _first_thaw(data)
    if kind is float and isinstance(data, int):
        return float(data)
    return data


def _first_thaw(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_first_thaw(v) for v in value)
    if isinstance(value, dict):
        return {k: _first_thaw(v) for k, v in value.items()}
    return value


def _report(count: int, nodes: int) -> Report:
    """render.py's report, its statements given sites and stacks as the capture shares them."""
    report = build_report(count, nodes)
    stacks = [
        (Site(report.filename or "<cell>", 4, "<module>"),),
        (Site("/app/shop/services.py", 38, "order_notes"), Site(report.filename or "<cell>", 6, "<module>")),
    ]
    statements = tuple(
        dataclasses.replace(s, site=stacks[i % 2][0], stack=stacks[i % 2])
        for i, s in enumerate(report.statements)
    )
    return dataclasses.replace(report, statements=statements)


def _best_of_alternating(actions: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    best = dict.fromkeys(actions, float("inf"))
    for _ in range(runs):
        for name, action in actions.items():
            gc.collect()
            start = time.process_time()
            action()
            best[name] = min(best[name], time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--statements", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--nodes", type=int, default=1_000)
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind")
    args = parser.parse_args()
    if args.instructions:
        _instructions(args)
        return
    print(
        "| statements | JSON size | to_json | per statement | first version | faster "
        "| from_json | per statement | first version | faster |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count in args.statements:
        report = _report(count, args.nodes)
        text = report.to_json()
        written = {**json.loads(_first_to_json(report)), "format": FORMAT_VERSION}
        if Report.from_json(text) != report or written != json.loads(text):
            raise SystemExit(f"the round trip of {count} statements changed the report")
        best = _best_of_alternating(_actions(report, text), args.runs)
        cells = [f"{count:,}", f"{len(text) / 2**20:.1f} MiB"]
        for way in ("to", "from"):
            mine, first = best[way], best[f"first {way}"]
            cells += [
                f"{mine * 1e3:,.1f} ms",
                f"{mine / count * 1e6:.1f} µs",
                f"{first * 1e3:,.1f} ms",
                f"{first / mine:.1f}×",
            ]
        print("| " + " | ".join(cells) + " |")


def _actions(report: Report, text: str) -> dict[str, Callable[[], object]]:
    return {
        "to": report.to_json,
        "first to": lambda: _first_to_json(report),
        "from": lambda: Report.from_json(text),
        "first from": lambda: _first_from_json(text),
    }


def _instructions(args: argparse.Namespace) -> None:
    if callgrind.under_callgrind():
        with callgrind.Counting() as counting:
            for count in args.statements:
                report = _report(count, args.nodes)
                text = report.to_json()
                counting.notes[str(count)] = len(text)
                for name, action in _actions(report, text).items():
                    action()  # warm-up: decoders and encoders are made on first use
                    counting.count(str(count), name, action)
        return
    counts, sizes = callgrind.run(__file__, sys.argv[1:])
    print(
        "| statements | JSON size | to_json | per statement | first version | faster "
        "| from_json | per statement | first version | faster |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count in args.statements:
        cells = [f"{count:,}", f"{sizes[str(count)] / 2**20:.1f} MiB"]
        for way in ("to", "from"):
            mine, first = counts[(str(count), way)], counts[(str(count), f"first {way}")]
            cells += [
                f"{mine / 1e6:,.0f} M",
                f"{mine / count / 1e3:,.0f} k",
                f"{first / 1e6:,.0f} M",
                f"{first / mine:.1f}×",
            ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
