"""The one reader of SQL text: shape and fingerprint, kind, tables, columns, layout.

Every part of the package that looks inside a statement's SQL asks here, so the same
text is read the same way by the capture, the rules and the renderers.  (Whether a
statement is safe to re-run under EXPLAIN ANALYZE is decided by `explain.sql`, which
reads the full parse tree.)

Fingerprints are built on sqlparse's lexer (not its full parser: a lexer pass is several
times cheaper and enough to find literals, placeholders and whitespace) and memoised per
distinct SQL string, since a workload repeats a few compiled strings many times.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
from collections.abc import Iterator
from typing import Optional

import sqlparse
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


# -- what a statement is and touches --------------------------------------------------------

_TABLE_AFTER = {
    "INSERT": re.compile(r"^\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+([\w.\"`\[\]]+)", re.I),
    "UPDATE": re.compile(r"^\s*UPDATE\s+([\w.\"`\[\]]+)", re.I),
    "DELETE": re.compile(r"^\s*DELETE\s+FROM\s+([\w.\"`\[\]]+)", re.I),
}
_FIRST_WORD = re.compile(r"\s*(\w+)")
_SELECT_LIST = re.compile(r"\s*SELECT\s+(?:DISTINCT\s+)?(.*?)\s+FROM\s", re.I | re.S)
_CLAUSE_END = re.compile(r"\b(WHERE|GROUP BY|ORDER BY|HAVING|LIMIT|OFFSET|UNION|FOR UPDATE)\b", re.I)


def verb(sql: str) -> str:
    """First SQL keyword, upper case (`SELECT`, `INSERT`, ...)."""
    match = _FIRST_WORD.match(sql)
    return match.group(1).upper() if match else ""


def dml_table(sql: str) -> Optional[str]:
    """Table an INSERT/UPDATE/DELETE writes to, unquoted."""
    pattern = _TABLE_AFTER.get(verb(sql))
    if pattern is None:
        return None
    match = pattern.match(sql)
    return match.group(1).strip('"`[]') if match else None


def selected_columns(sql: str) -> list[str]:
    """Column names of a SELECT's top-level select list (labels dropped)."""
    match = _SELECT_LIST.match(sql)
    if not match:
        return []
    names = []
    for item in split_top_level(match.group(1), ","):
        expression = re.split(r"\s+AS\s+", item.strip(), flags=re.I)[0]
        names.append(expression.rsplit(".", 1)[-1].strip('"`[] '))
    return names


def split_top_level(text: str, separator: str) -> list[str]:
    """`text` split on `separator` outside parentheses and quotes."""
    cuts = [position for position, char in _top_level(text) if char == separator]
    bounds = [-1, *cuts, len(text)]
    return [text[start + 1 : end] for start, end in itertools.pairwise(bounds)]


def from_clause(sql: str) -> tuple[Optional[str], str]:
    """The top-level FROM list of `sql` and what follows it (`None` without a FROM)."""
    upper = sql.upper()
    start = next(
        (
            position + 4
            for position, _char in _top_level(sql)
            if upper.startswith("FROM", position) and _word_boundary(sql, position, 4)
        ),
        None,
    )
    if start is None:
        return None, ""
    rest = sql[start:]
    end = _top_level_match(rest)
    if end is None:
        return rest, ""
    return rest[:end], rest[end:]


def _top_level(text: str) -> Iterator[tuple[int, str]]:
    """The characters of `text` outside parentheses and quotes, with their positions."""
    depth, quote = 0, ""
    for position, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0:
            yield position, char


def _top_level_match(text: str) -> Optional[int]:
    depth = 0
    for match in _CLAUSE_END.finditer(text):
        depth = text[: match.start()].count("(") - text[: match.start()].count(")")
        if depth == 0:
            return match.start()
    return None


def _word_boundary(sql: str, position: int, length: int) -> bool:
    before = sql[position - 1] if position else " "
    after = sql[position + length] if position + length < len(sql) else " "
    return not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_")


# -- layout for people ----------------------------------------------------------------------

MAX_FORMATTED_SQL = 5_000
"""Longer SQL only gets line breaks: sqlparse would take too long on it."""

_CLAUSE = re.compile(
    r"(?<!\bLEFT)(?<!\bRIGHT)(?<!\bFULL)(?<!\bINNER)(?<!\bCROSS)(?<!\bOUTER)"
    r"\s+(?=(?:FROM|WHERE|(?:LEFT |RIGHT |FULL |INNER |CROSS )?(?:OUTER )?JOIN|GROUP BY|ORDER BY|HAVING|"
    r"LIMIT|OFFSET|UNION(?: ALL)?|VALUES|SET|RETURNING)\b)",
    re.IGNORECASE,
)


def break_clauses(sql: str) -> str:
    """A cheap stand-in for sqlparse: each main clause on its own line."""
    return _CLAUSE.sub("\n", sql.strip())


def reindent(sql: str) -> str:
    """sqlparse's reindented layout, keywords upper case; `""` where sqlparse refuses."""
    try:
        return sqlparse.format(sql, reindent=True, keyword_case="upper").strip()
    except Exception:  # sqlparse refuses some inputs (e.g. too deeply nested)
        return ""


@functools.lru_cache(maxsize=2048)
def format_sql(sql: str) -> str:
    """Reindented SQL; long statements only get a line break before each clause."""
    if len(sql) <= MAX_FORMATTED_SQL:
        formatted = reindent(sql)
        if formatted:
            return formatted
    return break_clauses(sql)


_SQL_TOKEN = re.compile(
    r"(?P<str>'(?:[^']|'')*'?)"
    r"|(?P<ident>\"(?:[^\"]|\"\")*\"?|`[^`]*`?)"
    r"|(?P<comment>--[^\n]*|/\*.*?(?:\*/|$))"
    r"|(?P<param>\?|%\(\w+\)s|%s|:\w+|\$\d+)"
    r"|(?P<num>\b\d+(?:\.\d+)?\b)"
    r"|(?P<word>\b[A-Za-z_]\w*\b)",
    re.DOTALL,
)
SQL_KEYWORDS = frozenset(
    """select from where and or not in is null as on join left right full inner outer cross
    group by order having limit offset union all distinct insert into values update set delete
    returning with recursive case when then else end exists between like ilike asc desc count
    sum avg min max create table index primary key foreign references default begin commit
    rollback savepoint release explain analyze query plan using natural lateral for share
    nowait skip locked cast true false over partition window filter coalesce""".split()  # noqa: SIM905
)


def sql_tokens(sql: str) -> list[list[str]]:
    """`[kind, text]` pairs for highlighting; kind is `kw`, `str`, `num`, `param`, `comment`
    or `` (plain). Plain runs are merged so a long statement stays a short list."""
    tokens: list[list[str]] = []
    position = 0

    def add(kind: str, text: str) -> None:
        if tokens and tokens[-1][0] == kind == "":
            tokens[-1][1] += text
        else:
            tokens.append([kind, text])

    for match in _SQL_TOKEN.finditer(sql):
        if match.start() > position:
            add("", sql[position : match.start()])
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "word":
            kind = "kw" if text.lower() in SQL_KEYWORDS else ""
        elif kind == "ident":
            kind = ""
        add(kind, text)
        position = match.end()
    if position < len(sql):
        add("", sql[position:])
    return tokens
