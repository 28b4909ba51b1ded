"""Statement fingerprints: the SQL with literals and parameters normalised away.

Built on sqlparse's lexer (not its full parser: a lexer pass is several times cheaper and
enough to find literals, placeholders and whitespace) and memoised per distinct SQL
string, since a workload repeats a few compiled strings many times.
"""

from __future__ import annotations

import functools
import hashlib
import re

from sqlparse import tokens
from sqlparse.lexer import Lexer

_PLACEHOLDER = "?"
# Double-quoted identifiers lex as String.Symbol: names, not values.
_NAME_TYPES = (tokens.Keyword, tokens.Literal.String.Symbol)
_VALUE_TYPES = (tokens.Literal, tokens.Name.Placeholder, tokens.Literal.Number, tokens.Literal.String)
# `IN (?, ?, ?)` and multi-row `VALUES (?, ?), (?, ?)` differ only in how many values were bound.
_LIST = re.compile(r"\(\?(?:, \?)*\)(?:, ?\(\?(?:, \?)*\))*")
_MAX_LEXED = 20_000


def normalize(sql: str) -> str:
    """The statement's shape: keywords upper-cased, values as `?`, lists folded, one space."""
    return _normalize(sql)


def fingerprint(sql: str) -> str:
    """A short, stable hash of `normalize(sql)`."""
    return _fingerprint(sql)


@functools.lru_cache(maxsize=4096)
def _fingerprint(sql: str) -> str:
    return hashlib.blake2b(_normalize(sql).encode(), digest_size=8).hexdigest()


@functools.lru_cache(maxsize=4096)
def _normalize(sql: str) -> str:
    # A statement with megabytes of inlined literals keeps its head for the shape.
    text = sql if len(sql) <= _MAX_LEXED else sql[:_MAX_LEXED]
    parts: list[str] = []
    lexer = Lexer.get_default_instance()  # type: ignore[no-untyped-call,unused-ignore]
    for ttype, value in lexer.get_tokens(text):
        if ttype in tokens.Whitespace or ttype in tokens.Newline or ttype in tokens.Comment:
            continue
        if any(ttype in kind for kind in _VALUE_TYPES) and ttype not in _NAME_TYPES:
            parts.append(_PLACEHOLDER)
        elif ttype in tokens.Keyword or ttype in tokens.Name.Builtin:
            parts.append(value.upper())
        else:
            parts.append(value)
    shape = _SPACE_AFTER.sub(r"\1", _SPACE_BEFORE.sub(r"\1", " ".join(parts)))
    return _LIST.sub("(...)", shape)


_SPACE_BEFORE = re.compile(r" ([.,()])")
_SPACE_AFTER = re.compile(r"([.(]) ")
