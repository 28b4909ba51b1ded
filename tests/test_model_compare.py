"""`Report.compare`: two real runs of the same work, before and after fixing an N+1."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from sqla_magic import Report, demo, profile
from sqla_magic.model import LAYERS, Change, Comparison, Memory, Statement


def _runs(engine: sa.Engine, prefix: str) -> tuple[Report, Report]:
    models = demo.declare(prefix)
    demo.populate(engine, models, authors=30, books_per_author=4)
    models.Base.registry.configure()
    try:
        with Session(engine) as session, profile(explain=False) as before:
            for author in session.scalars(sa.select(models.Author)).all():
                sum(book.pages for book in author.books)
        with Session(engine) as session, profile(explain=False) as after:
            query = sa.select(models.Author).options(selectinload(models.Author.books))
            for author in session.scalars(query).all():
                sum(book.pages for book in author.books)
    finally:
        models.metadata.drop_all(engine)
    return before, after


def test_fixing_an_n_plus_one(any_engine: sa.Engine, table_prefix: str) -> None:
    before, after = _runs(any_engine, table_prefix)
    comparison = before.compare(after)
    assert comparison.names == ("before", "after")
    statements = comparison.measure("statements")
    assert (statements.before, statements.after) == (31.0, 2.0)
    assert statements.verdict == "better" and statements.delta == -29.0
    assert comparison.measure("rows").before == comparison.measure("rows").after == 150.0
    assert comparison.measure("rows").verdict == "same"
    assert comparison.measure("ORM objects").verdict == "same"
    spent = {name for r in (before, after) for name, seconds in r.layers.items() if seconds}
    assert [change.name for change in comparison.layers] == [name for name in LAYERS if name in spent]
    assert comparison.memory.unit == "bytes" and comparison.memory.verdict != "not measured"

    by_status = {shape.status: shape for shape in comparison.shapes}
    assert by_status["removed"].before == 30 and by_status["removed"].after == 0
    assert by_status["removed"].origin.startswith("lazy load")
    assert by_status["added"].before == 0 and by_status["added"].after == 1
    assert comparison.unchanged_shapes == 1  # the authors query

    assert [f.rule for f in comparison.fixed] == ["n-plus-one"]
    assert "n-plus-one" not in {f.rule for f in comparison.new}

    reverse = after.compare(before)
    assert reverse.measure("statements").verdict == "worse"
    assert [f.rule for f in reverse.new] == ["n-plus-one"] and not reverse.fixed


def test_a_run_compared_with_itself_changes_nothing(sqlite_engine: sa.Engine, table_prefix: str) -> None:
    before, _ = _runs(sqlite_engine, table_prefix)
    comparison = before.compare(before)
    assert not comparison.shapes and not comparison.fixed and not comparison.new
    assert len(comparison.kept) == len(before.findings)
    assert all(c.verdict in ("same", "no clear change") for c in comparison.changes())


def _report(wall_s: float, peak: int | None = None) -> Report:
    statement = Statement(
        sql="SELECT 1",
        params=(),
        duration_s=0.001,
        rowcount=1,
        executemany=False,
        fingerprint="f1",
        cache="cached",
        line=2,
        origin="core",
        engine="sqlite://",
        thread="MainThread",
        param_sets=3,
    )
    memory = Memory(peak_bytes=peak) if peak is not None else None
    return Report(wall_s=wall_s, cpu_s=wall_s, statements=(statement,), memory=memory)


def test_time_within_noise_is_no_clear_change() -> None:
    def wall(before: float, after: float) -> Change:
        return _report(before).compare(_report(after)).measure("wall time")

    assert wall(0.100, 0.120).verdict == "no clear change"  # 1.2×: within run-to-run spread
    assert wall(0.100, 0.140).verdict == "no clear change"
    assert wall(0.100, 0.200).verdict == "worse"
    assert wall(0.100, 0.010).verdict == "better"
    assert wall(0.001, 0.004).verdict == "no clear change"  # 4× but only 3 ms
    assert _report(0.1).compare(_report(0.1)).measure("parameter sets").before == 3.0


def test_memory_needs_both_runs_and_a_clear_difference() -> None:
    mib = 1 << 20
    assert _report(0.1).compare(_report(0.1, 5 * mib)).memory.verdict == "not measured"
    assert _report(0.1, 5 * mib).compare(_report(0.1, 6 * mib)).memory.verdict == "no clear change"
    assert _report(0.1, 50 * mib).compare(_report(0.1, 5 * mib)).memory.verdict == "better"


def test_comparison_is_plain_data() -> None:
    comparison = _report(0.1).compare(_report(0.3))
    assert isinstance(comparison, Comparison)
    assert (
        Comparison(**{name: getattr(comparison, name) for name in comparison.__dataclass_fields__})
        == comparison
    )


def test_a_resident_peak_is_not_compared_with_a_traced_one() -> None:
    from dataclasses import replace

    from sqla_magic.model import Memory, Report

    resident = replace(Report(wall_s=0.1, cpu_s=0.1), memory=Memory(peak_bytes=50 * 2**20, method="rss"))
    traced = replace(resident, memory=Memory(peak_bytes=5 * 2**20, method="tracemalloc"))
    assert resident.compare(traced).measure("peak memory").verdict == "not measured"
    assert resident.compare(resident).measure("peak memory").verdict == "no clear change"
