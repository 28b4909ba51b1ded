"""The memory headline is what the cell allocated: the same on every re-run, about nothing
for a loop that keeps nothing (whatever the profiler itself records), and a nested
`profile()` does not take the outer cell's peak away."""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell

from tests.reliability.conftest import run

MiB = 2**20

GROWS_AND_FREES = """%%sqlprofile --quiet --no-explain -o rep
rows = [(i, f"title {i}" * 4) for i in range(200_000)]
del rows
session.execute(sa.select(Author)).all()
"""


def test_re_running_a_cell_shows_the_same_peak(shell: InteractiveShell) -> None:
    peaks, resident = [], []
    for _ in range(3):
        run(shell, GROWS_AND_FREES).raise_error()
        memory = shell.user_ns["rep"].memory
        assert memory is not None and memory.method == "tracemalloc"
        peaks.append(memory.peak_bytes)
        resident.append(memory.resident_bytes)
    assert min(peaks) > 20 * MiB, peaks  # 200k tuples and strings
    assert max(peaks) - min(peaks) < 0.05 * min(peaks), peaks
    assert all(r is not None for r in resident)


def test_a_loop_that_keeps_nothing_shows_about_nothing(shell: InteractiveShell) -> None:
    run(
        shell,
        "%%sqlprofile --quiet --no-explain -o rep\n"
        "with engine.connect() as conn:\n"
        "    for i in range(20_000):\n"
        "        conn.exec_driver_sql('SELECT ?', (i,)).all()\n",
    ).raise_error()
    report = shell.user_ns["rep"]
    assert len(report.statements) == 20_000
    memory = report.memory
    # The profiler's records of 20,000 statements are several MiB; the cell keeps nothing.
    assert memory.profiler_bytes > 5 * MiB, memory
    assert memory.peak_bytes < min(2 * MiB, 0.25 * memory.profiler_bytes), memory


def test_a_nested_profile_keeps_the_outer_peak(shell: InteractiveShell) -> None:
    run(
        shell,
        "%%sqlprofile --quiet --no-explain -o outer\n"
        "block = bytearray(48 * 2**20)\n"
        "block[::4096] = b'x' * len(block[::4096])\n"
        "del block\n"
        "with sqla_magic.profile(explain=False) as inner:\n"
        "    session.execute(sa.text('SELECT 1')).all()\n"
        "with sqla_magic.profile(explain=False, memory_lines=True) as inner_lines:\n"
        "    small = [0] * 1000\n",
    ).raise_error()
    outer, inner = shell.user_ns["outer"].memory, shell.user_ns["inner"].memory
    assert outer.peak_bytes >= 48 * MiB, outer
    assert outer.resident_bytes is not None and outer.resident_bytes >= 40 * MiB, outer
    assert inner.peak_bytes < 4 * MiB, inner
    assert shell.user_ns["inner_lines"].memory.peak_bytes < 4 * MiB
