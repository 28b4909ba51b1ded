"""Starting and stopping capture: every recorder installed, and all of them removed again."""

from __future__ import annotations

import cProfile
import sys
import tracemalloc
import warnings

import pytest
import sqlalchemy as sa

from sqla_magic.capture import run
from sqla_magic.capture.statements import listeners_installed


class _InterruptedProfile(cProfile.Profile):
    """A call-tree profiler whose start is cut short by Ctrl-C, the last step of all."""

    def enable(self, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt


def test_a_failed_start_undoes_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    showwarning = warnings.showwarning
    tracing = tracemalloc.is_tracing()
    monkeypatch.setattr(run.cProfile, "Profile", _InterruptedProfile)
    profiler = run.Profiler(run.Options(memory_lines=True, explain=False, findings=False), (__file__,))
    with pytest.raises(KeyboardInterrupt):
        profiler.start(running_frame=sys._getframe())
    assert warnings.showwarning is showwarning
    assert not listeners_installed()
    assert tracemalloc.is_tracing() is tracing
    assert sys.gettrace() is None or sys.gettrace() is not getattr(profiler._lines, "_global_trace", None)
    assert not profiler.running


def test_capture_records_and_leaves_analysis_to_the_pipeline(sqlite_engine: sa.Engine) -> None:
    profiler = run.Profiler(run.Options(memory=False), (__file__,))
    profiler.start()
    with sqlite_engine.connect() as conn:
        for _ in range(3):
            conn.execute(sa.text("SELECT 1")).all()
    recording = profiler.stop()
    assert [s.sql for s in recording.report.statements] == ["SELECT 1"] * 3
    assert recording.report.findings == () and recording.report.plans == ()
    assert len(recording.records) == 3
    assert not listeners_installed() and warnings.showwarning is not profiler._record_warning
    profiler.stop()  # a second stop has nothing left to undo
