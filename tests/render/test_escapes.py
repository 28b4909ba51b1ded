"""Terminal escapes and bidi controls from the data never reach text or HTML output raw."""

from __future__ import annotations

import contextlib

import sqlalchemy as sa

import sqla_magic
from sqla_magic.render.escapes import INVISIBLE
from sqla_magic.render.html import render_page
from sqla_magic.render.text import render_text

HOSTILE = "\x1b[2J\x1b]0;owned\x07 evil\u202egnp.exe\u2066 \r overwritten"


def test_text_and_the_standalone_page_show_escapes_not_control_characters() -> None:
    engine = sa.create_engine("sqlite://")
    with sqla_magic.profile(memory=False) as report, engine.connect() as conn:
        conn.execute(sa.text("SELECT :v AS shown"), {"v": HOSTILE}).all()
        with contextlib.suppress(sa.exc.OperationalError):
            conn.exec_driver_sql(f"SELECT * FROM missing_{HOSTILE!r}")
    for output in (render_text(report), render_page(report), repr(report)):
        assert not INVISIBLE.search(output.replace("\r\n", "\n"))
        assert "\\x1b" in output and "\\u202e" in output
    engine.dispose()
