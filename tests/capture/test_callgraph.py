"""The cumulative call tree built from cProfile's statistics."""

from __future__ import annotations

import cProfile
import os
import pstats
import subprocess
import sys
import time
import warnings

from sqlalchemy.orm import Session

import sqla_magic
from sqla_magic import demo, profile
from sqla_magic.capture.statements import listeners_installed

CAPTURE_DIR = os.path.join(os.path.dirname(os.path.abspath(sqla_magic.__file__)), "capture")


def _leaf(delay: float) -> None:
    time.sleep(delay)


def _branch() -> None:
    for _ in range(3):
        _leaf(0.01)


def test_tree_has_calls_times_and_no_profiler_frames(sqlite_engine, table_prefix) -> None:
    models = demo.declare(table_prefix)
    demo.populate(sqlite_engine, models, authors=5, books_per_author=2)
    with Session(sqlite_engine) as session, profile(explain=False) as report:
        _branch()
        session.query(models.Author).all()
    tree = report.call_tree
    assert tree is not None
    nodes = list(tree.walk())
    assert not any(n.file.startswith(CAPTURE_DIR) for n in nodes)
    assert not any("_lsprof" in n.name for n in nodes)
    branch = next(n for n in tree.children if n.name == "_branch")
    leaf = next(n for n in branch.children if n.name == "_leaf")
    assert branch.kind == "cell" and branch.file == __file__ and branch.calls == 1
    assert leaf.calls == 3 and leaf.total_s >= 0.03
    assert branch.total_s >= leaf.total_s >= leaf.self_s >= 0
    assert tree.total_s <= report.wall_s * 1.05
    for node in nodes:
        totals = [c.total_s for c in node.children]
        assert totals == sorted(totals, reverse=True)
    assert any(n.kind == "sqlalchemy" and n.layer == "orm_load" for n in nodes)
    assert any(n.layer == "database" for n in nodes)


def test_nested_profile_degrades_with_a_note() -> None:
    with profile(explain=False) as outer, profile(explain=False) as inner:
        _leaf(0.001)
    assert inner.call_tree is None
    assert any("another profiler" in note for note in inner.notes)
    assert outer.call_tree is not None
    assert any(n.name == "_leaf" for n in outer.call_tree.walk())


def _profiler_slot() -> object:
    """Who holds the process's profiler hook: the `sys.setprofile` function and, on
    Python 3.12+, the `sys.monitoring` profiler tool that cProfile uses."""
    monitoring = getattr(sys, "monitoring", None)
    tool = monitoring.get_tool(monitoring.PROFILER_ID) if monitoring is not None else None
    return (sys.getprofile(), tool)


def test_a_running_cprofile_leaves_the_call_tree_out_with_a_note(sqlite_engine) -> None:
    before = _profiler_slot()
    warnings_hook = warnings.showwarning
    outside = cProfile.Profile()
    outside.enable()
    try:
        with profile(explain=False) as report, sqlite_engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").all()
            _leaf(0.001)
    finally:
        outside.disable()
    assert report.call_tree is None
    assert any("another profiler is active" in note for note in report.notes)
    assert [s.sql for s in report.statements] == ["SELECT 1"]
    assert not listeners_installed() and warnings.showwarning is warnings_hook
    assert _profiler_slot() == before
    assert any(name == "_leaf" for (_, _, name) in pstats.Stats(outside).stats)  # type: ignore[attr-defined]


def test_demo_runs_under_python_m_cprofile(tmp_path) -> None:
    stats = tmp_path / "demo.prof"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "sqla_magic", "demo", "--authors", "5"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "another profiler is active" in done.stdout
    assert "statements" in done.stdout
    assert pstats.Stats(str(stats)).total_calls > 0  # type: ignore[attr-defined]


_TWINS = "def twin(n):\n    return sum(range(n))\n"


def _shared_labels_and_recursion(sqlite_engine) -> None:
    for _ in range(3):  # three code objects, one label
        space: dict[str, object] = {}
        exec(compile(_TWINS, "<twins>", "exec"), space)
        space["twin"](10)  # type: ignore[operator]
    pair = (lambda n: n + 1, lambda n: [i for i in range(n)])  # two lambdas, one label
    pair[0](1), pair[1](3)

    def countdown(n: int) -> int:
        return countdown(n - 1) if n else 0

    countdown(5)
    with sqlite_engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1").all()


def test_functions_read_as_create_stats_reads_them(sqlite_engine) -> None:
    """The statistics read from `getstats()`, code objects that share a label merged, are
    the ones `create_stats` makes."""
    from sqla_magic.capture.callgraph import _Functions

    for builtins in (False, True):
        profiler = cProfile.Profile(builtins=builtins)
        profiler.enable()
        _shared_labels_and_recursion(sqlite_engine)
        profiler.disable()
        functions = _Functions(profiler.getstats())
        profiler.create_stats()
        stats = profiler.stats  # type: ignore[attr-defined]
        present = [n for n in range(len(functions.labels)) if n not in functions.absorbed]
        assert functions.absorbed  # some labels were shared
        assert [functions.labels[n] for n in present] == list(stats)
        number = {functions.labels[n]: n for n in present}
        assert [functions.calls[n] for n in present] == [value[1] for value in stats.values()]
        assert [functions.inline[n] for n in present] == [value[2] for value in stats.values()]
        assert [functions.cumulative[n] for n in present] == [value[3] for value in stats.values()]
        assert sum(functions.inline) == sum(value[2] for value in stats.values())
        expected: dict[int, list[tuple[int, int, float]]] = {}
        for callee, value in stats.items():
            for caller, edge in value[4].items():
                expected.setdefault(number[caller], []).append((number[callee], edge[1], edge[3]))
        assert functions.children == expected
        assert functions.called == {number[callee] for callee, value in stats.items() if value[4]}
