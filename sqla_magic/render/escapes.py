"""Characters that must not reach a terminal or a page raw: control characters (ESC starts
a terminal escape sequence that can rewrite the screen, BEL rings, CR overwrites a line),
bidi overrides and isolates (they reorder what is shown, so code reads differently from
what it is), zero-width characters and lone surrogates.  SQL, parameters and errors come
from the user's data; each such character is shown as its escape (`\\x1b`, `\\u202e`)."""

from __future__ import annotations

import re

INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)
"""Everything but tab and newline below space, C1 controls, zero-width and bidi controls."""


def visible(text: str) -> str:
    """`text` with every invisible or terminal-controlling character as its escape."""
    return INVISIBLE.sub(_escape, text) if INVISIBLE.search(text) else text


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
