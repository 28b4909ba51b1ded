"""The static report's HTML vocabulary: escaping, prose with code, tables, SQL and diffs.

Each tab of the view writes its static section (`Tab.static`) from its own payload with
these; `html.py` puts the sections together.  Every piece of report data on its way into
HTML goes through `escape()`; values used as CSS classes come from fixed tables, never
from the report.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

ROOT_CLASS = "sqla-magic-report"

STYLE = (Path(__file__).parent / "static" / "report.css").read_text(encoding="utf-8")
"""The report's own style, scoped to ROOT_CLASS; kept as a real .css file beside this module."""
PAGE_STYLE = (Path(__file__).parent / "static" / "page.css").read_text(encoding="utf-8")
"""The standalone page's: the reader's light or dark colour scheme."""

SEVERITY_CLASSES: Mapping[str, str] = {"high": "sm-high", "medium": "sm-medium", "low": "sm-low"}
VERDICT_CLASSES: Mapping[str, str] = {
    "better": "sm-better",
    "worse": "sm-worse",
    "same": "sm-muted",
    "no clear change": "sm-muted",
    "not measured": "sm-muted",
}
DIFF_CLASSES: Mapping[str, str] = {"add": "sm-add", "del": "sm-del", "hunk": "sm-hunk", "meta": "sm-muted"}


def escape(value: object) -> str:
    """Every piece of report data on its way into HTML passes here."""
    return html.escape(str(value), quote=True)


def prose(text: str) -> str:
    """Escaped prose whose `backticked` parts (code, in the rules' messages) become <code>."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # unbalanced: leave it as written
        return escape(text)
    return "".join(f"<code>{escape(part)}</code>" if i % 2 else escape(part) for i, part in enumerate(parts))


def more(text: str) -> str:
    """A line saying what was left out."""
    return f'<div class="sm-more">{escape(text)}</div>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[bool] = ()) -> str:
    """A table of cells that are already HTML; `numeric` columns are right-aligned."""

    def cls(i: int) -> str:
        return ' class="n"' if i < len(numeric) and numeric[i] else ""

    head = "".join(f"<th{cls(i)}>{escape(label)}</th>" for i, label in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{cell}</td>" for i, cell in enumerate(cells)) + "</tr>"
        for cells in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def sql_block(tokens: Sequence[Sequence[str]]) -> str:
    """The formatted SQL of a payload's `sql_tokens`, as text."""
    return f"<pre>{escape(''.join(text for _kind, text in tokens))}</pre>"


def diff_block(lines: Sequence[Sequence[str]]) -> str:
    """A payload's diff lines (`[kind, text]`) as a coloured `<pre>`."""
    rendered = [
        f"<span class='{DIFF_CLASSES[kind]}'>{escape(text)}</span>" if kind in DIFF_CLASSES else escape(text)
        for kind, text in lines
    ]
    return f"<pre class='sm-diff'>{chr(10).join(rendered)}</pre>"
