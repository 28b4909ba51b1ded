"""Ctrl-C while the post-cell EXPLAIN runs, in a real kernel: the report is kept (in
`last_report()` and the `-o` name) and the EXPLAIN thread stops."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
SLOW_UNDER_EXPLAIN = (
    # Quick when the cell runs it, 25 s inside EXPLAIN ANALYZE's read-only transaction.
    "SELECT pg_sleep(CASE WHEN current_setting('transaction_read_only') = 'on' THEN 25 ELSE 0 END)"
)


def _wait_for_explain(engine: sa.Engine) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with engine.connect() as conn:  # a new connection each time: a fresh pg_stat_activity
            running = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE 'EXPLAIN (ANALYZE%%transaction_read_only%%'"
            ).scalar_one()
        if running:
            return
        time.sleep(0.1)
    raise AssertionError("EXPLAIN ANALYZE never started")


def test_ctrl_c_during_explain_keeps_the_report(pg_engine: sa.Engine) -> None:
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    manager, client = start_new_kernel(kernel_name="python3", env=env)
    try:
        setup = (
            "%load_ext sqla_magic\nimport sqlalchemy as sa, threading, sqla_magic\n"
            f"engine = sa.create_engine({pg_engine.url.render_as_string(False)!r})"
        )
        assert client.execute_interactive(setup, timeout=60)["content"]["status"] == "ok"
        cell = (
            "%%sqlprofile --explain-analyze --quiet -o rep\n"
            f"with engine.connect() as conn:\n    conn.exec_driver_sql({SLOW_UNDER_EXPLAIN!r}).all()\n"
        )
        message_id = client.execute(cell)
        _wait_for_explain(pg_engine)  # the cell took no time; EXPLAIN ANALYZE is now sleeping
        started = time.monotonic()
        manager.interrupt_kernel()
        while True:
            reply = client.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == message_id:
                break
        assert time.monotonic() - started < 10
        printed: list[str] = []

        def keep(message: dict[str, object]) -> None:
            content = message["content"]
            if message["msg_type"] == "stream" and isinstance(content, dict):
                printed.append(str(content["text"]))

        check = (
            "import time; time.sleep(0.5)\n"
            "print(rep is sqla_magic.last_report(), len(rep.statements) > 0)\n"
            "print(any('interrupted' in (p.note or '') for p in rep.plans) or "
            "any('interrupted' in n for n in rep.notes))\n"
            "print([t.name for t in threading.enumerate() if t.name == 'sqla_magic-explain'])\n"
            "print([p.note for p in rep.plans], rep.notes)"
        )
        assert client.execute_interactive(check, timeout=30, output_hook=keep)["content"]["status"] == "ok"
        assert "".join(printed).split("\n")[:3] == ["True True", "True", "[]"], printed
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
