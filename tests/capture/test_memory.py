"""Memory: the peak by default, the per-line table with `memory_lines`."""

from __future__ import annotations

import tracemalloc

from sqlalchemy.orm import Session

from sqla_magic import demo, profile


def test_the_peak_is_what_the_code_allocated_and_the_resident_peak_is_kept() -> None:
    with profile(explain=False, allocations=True) as report:
        block = bytearray(64 * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])  # touch every page
        del block
    memory = report.memory
    assert memory is not None and memory.method == "tracemalloc"
    assert 64 * 2**20 <= memory.peak_bytes < 66 * 2**20
    assert memory.resident_bytes is not None and memory.resident_bytes >= 60 * 2**20


def test_by_default_the_peak_is_resident_and_nothing_is_traced() -> None:
    with profile(explain=False) as report:
        traced = tracemalloc.is_tracing()
        block = bytearray(64 * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])
        del block
    memory = report.memory
    assert not traced
    assert memory is not None and memory.method == "rss"
    assert 60 * 2**20 <= memory.peak_bytes < 70 * 2**20, memory
    assert memory.resident_bytes is not None and memory.resident_bytes >= memory.peak_bytes


def test_a_nested_allocated_peak_keeps_the_outer_one() -> None:
    from sqla_magic.capture.memory import AllocatedPeak

    outer = AllocatedPeak()
    outer.start()
    block = bytearray(32 * 2**20)
    del block
    inner = AllocatedPeak()
    inner.start()
    inner_peak = inner.stop()
    outer_peak = outer.stop()
    assert outer_peak is not None and outer_peak >= 32 * 2**20, outer_peak
    assert inner_peak is not None and inner_peak < 2**20, inner_peak


def test_per_line_table_shows_whole_rows_versus_one_column(sqlite_engine, table_prefix) -> None:
    models = demo.declare(table_prefix)
    demo.populate(sqlite_engine, models, authors=0, users=2000, addresses_per_user=5)
    address = models.EmailAddress
    with Session(sqlite_engine) as session:
        with profile(memory_lines=True, explain=False) as report:
            rows = session.query(address).filter(address.bounced.is_(True)).all()
            emails = session.query(address.email_address).filter(address.bounced.is_(True)).all()
        assert len(rows) == len(emails) > 1000
    memory = report.memory
    assert memory is not None and memory.method == "tracemalloc" and memory.lines
    by_source = {line.source.strip(): line for line in memory.lines}
    whole = next(v for k, v in by_source.items() if k.startswith("rows ="))
    column = next(v for k, v in by_source.items() if k.startswith("emails ="))
    assert whole.increment_bytes > 5 * column.increment_bytes > 0
    assert whole.peak_bytes >= whole.increment_bytes
    assert whole.total_bytes >= whole.increment_bytes
    assert memory.peak_bytes >= whole.increment_bytes


def test_a_nested_profile_keeps_the_outer_peak() -> None:
    from sqla_magic.capture.memory import PeakRss

    outer = PeakRss()
    outer.start()
    block = bytearray(64 * 2**20)  # touched: resident until freed
    del block
    inner = PeakRss()
    inner.start()
    inner_peak = inner.stop()
    outer_peak = outer.stop()
    assert outer_peak >= 60 * 2**20, outer_peak
    assert inner_peak < 60 * 2**20, inner_peak


def _held_one_by_one(records: list) -> int:
    """`held_by_records` as a plain loop: what the C passes must add up to."""
    import sys

    size, refs = sys.getsizeof, sys.getrefcount
    containers = (tuple, list, dict)

    def values_held(row) -> int:
        return sum(size(v) for v in (row.values() if isinstance(row, dict) else row) if refs(v) <= 3)

    total = size(records) + (size(records[0]) + 3 * size(0.5)) * len(records) if records else size(records)
    for record in records:
        total += size(record.lines) + size(record.frames)
        parameters = record.parameters
        if isinstance(parameters, containers) and refs(parameters) <= 3:
            total += size(parameters)
            if record.executemany and isinstance(parameters, (list, tuple)):
                for row in parameters:
                    if isinstance(row, containers) and refs(row) <= 3:
                        total += size(row) + values_held(row)
            else:
                total += values_held(parameters)
    return total


def test_held_by_records_counts_as_a_loop_over_them() -> None:
    import collections

    from sqla_magic.capture.run import held_by_records
    from sqla_magic.capture.statements import StatementRecord

    def record(parameters, executemany=False, frames=None):
        made = object.__new__(StatementRecord)
        made.parameters, made.executemany, made.lines = parameters, executemany, {"cell.py": 1}
        made.frames = ["cell.py", 1, "f", "lib.py", 2, "g"] if frames is None else frames
        return made

    shared_text, shared_row, shared_frames = "x" * 50, (10**6, 2 * 10**6), ["cell.py", 9, "k"]
    records = [
        record((10**6 + 1, "a" * 40)),
        record([10**6 + 2, b"b" * 40]),
        record({"k": 10**6 + 3, "s": "c" * 33}),
        record(collections.OrderedDict(k=10**6 + 4)),
        record(shared_row),
        record(shared_row),
        record((shared_text, shared_text)),
        record((shared_text,)),
        record(None),
        record(5),
        record([{"a": 10**6 + 5, "b": "d" * 20}, {"a": 10**6 + 6, "b": "e" * 20}], True),
        record([(10**6 + 7, "f" * 20), (10**6 + 8, "g" * 20)], True),
        record([{"a": 10**6 + 9}, (10**6 + 10,), ["h" * 30], 5, None], True),
        record({"a": 10**6 + 11}, True),
        record((1,), frames=shared_frames),
        record((2,), frames=["cell.py", 9, "k", "lib.py", 3, "h"]),
        record((3,), frames=[]),
        record(collections.namedtuple("Row", "a b")(10**6 + 12, "i" * 20)),
        # a bulk insert's thousand rows, a large value on every third: each row counts
        record([(10**6 + i, "j" * 100_000 if i % 3 == 1 else "k") for i in range(1000)], True),
        record([{"a": 10**6 + i, "b": "l" * 50_000 if i % 4 == 2 else "m"} for i in range(1024)], True),
    ]
    assert held_by_records(records) == _held_one_by_one(records)
    assert held_by_records(records[:1]) == _held_one_by_one(records[:1])
    assert held_by_records([]) == _held_one_by_one([])
