"""Is this SQL provably one statement, and of which kind, by the rules of its database?

EXPLAIN and verify must not trust a reader that is not the database's lexer: a
statement hidden after a first one that is misread would run for real.  This lexer
knows where each database ends a string, a quoted name and a comment:

- PostgreSQL: `--` to the end of the line, nested `/* */`, `E'...'` strings with
  backslash escapes, dollar quoting (`$tag$ ... $tag$`); plain `'...'` strings take
  backslashes literally unless `standard_conforming_strings` is off.
- MySQL / MariaDB: `#` and `-- ` (a space or control character after the dashes; `--x`
  is two minus signs), `/*! ... */` executable comments (whose content runs), `"...'`
  strings with backslash escapes unless `NO_BACKSLASH_ESCAPES`.
- SQLite: `--`, `/* */` (not nested), `[name]` and backquoted names, no backslash escapes.

Where a server setting changes the reading (the backslash rules), the SQL is read both
ways and refused when the two readings differ.  When in doubt, the answer is a refusal
with the reason, never a guess.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Optional

READ = "read"
LOCKING_READ = "locking read"
WRITE = "write"
DDL = "ddl"
SESSION = "session"
"""SET / USE / RESET: changes the connection's session state (schema, role, settings)."""
OTHER = "other"
"""Transaction control, CALL, anything else."""

MYSQL_DIALECTS = frozenset({"mysql", "mariadb"})
_READ_STARTS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
_WRITE_STARTS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "UPSERT"})
_DDL_STARTS = frozenset({"CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME", "COMMENT", "GRANT", "REVOKE"})
_SESSION_STARTS = frozenset({"SET", "USE", "RESET"})
_WORD = re.compile(r"[^\W\d][\w$]*")
_NUMBER = re.compile(r"\d[\w.]*")
_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d][\w]*)?\$")
_MAX_LEXED = 200_000


class DoubtError(ValueError):
    """The SQL cannot be read with certainty; the message says why."""


@dataclass(frozen=True)
class Token:
    kind: str
    """word, string, name (quoted identifier), number, param, punct or semicolon."""
    text: str


@dataclass(frozen=True)
class Classified:
    """One statement's kind, or why it is not provably one statement."""

    kind: str
    first_word: str = ""
    refusal: Optional[str] = None
    functions: tuple[str, ...] = ()
    """Names called as functions (upper case), in order of appearance."""
    subquery: bool = False
    """A parenthesised SELECT/WITH inside the statement."""
    words: tuple[str, ...] = ()
    """Its unquoted words, upper case."""

    @property
    def single(self) -> bool:
        return self.refusal is None


def tokens(sql: str, dialect: str, *, backslash_escapes: bool) -> list[Token]:
    """The significant tokens of `sql` (comments and whitespace dropped).

    `backslash_escapes`: whether the server reads `\\` in plain strings as an escape
    (MySQL without NO_BACKSLASH_ESCAPES; PostgreSQL with standard_conforming_strings off).
    """
    mysql = dialect in MYSQL_DIALECTS
    postgresql = dialect == "postgresql"
    sqlite = dialect == "sqlite"
    found: list[Token] = []
    position, end = 0, len(sql)
    while position < end:
        char = sql[position]
        if char.isspace():
            position += 1
            continue
        if sql.startswith("--", position) and (
            not mysql or position + 2 == end or sql[position + 2].isspace() or ord(sql[position + 2]) < 32
        ):
            position = _line_end(sql, position)
            continue
        if char == "#" and mysql:
            position = _line_end(sql, position)
            continue
        if sql.startswith("/*", position):
            if mysql and (sql.startswith("/*!", position) or sql.startswith("/*M!", position)):
                raise DoubtError("it has an executable comment (/*! ... */), whose content MySQL runs")
            position = _comment_end(sql, position, nested=postgresql)
            continue
        if char in "'\"`" or (char == "[" and sqlite):
            prefix = found[-1].text.upper() if found and found[-1].kind == "word" else ""
            adjacent = bool(prefix) and sql[position - len(prefix) : position].upper() == prefix
            escapes = backslash_escapes and char in "'\""
            if postgresql:
                escapes = (char == "'" and backslash_escapes) or (char == "'" and adjacent and prefix == "E")
            if mysql and char == "`":
                escapes = False
            closing = "]" if char == "[" else char
            position, text = _quoted(sql, position, closing, escapes=escapes, doubled=char != "[")
            kind = "string" if char == "'" or (mysql and char == '"') else "name"
            if adjacent and prefix in ("E", "B", "X", "N", "U&", "_UTF8MB4", "_BINARY"):
                found.pop()
            found.append(Token(kind, text))
            continue
        if char == "$" and postgresql:
            tag = _DOLLAR_TAG.match(sql, position)
            if tag:
                close = sql.find(tag.group(), tag.end())
                if close < 0:
                    raise DoubtError("it has an unterminated dollar-quoted string")
                found.append(Token("string", sql[position : close + len(tag.group())]))
                position = close + len(tag.group())
                continue
        word = _WORD.match(sql, position)
        if word:
            found.append(Token("word", word.group()))
            position = word.end()
            continue
        number = _NUMBER.match(sql, position)
        if number:
            found.append(Token("number", number.group()))
            position = number.end()
            continue
        found.append(Token("semicolon" if char == ";" else "punct", char))
        position += 1
    return found


def _line_end(sql: str, position: int) -> int:
    newline = sql.find("\n", position)
    return len(sql) if newline < 0 else newline + 1


def _comment_end(sql: str, position: int, *, nested: bool) -> int:
    depth, position = 1, position + 2
    while depth:
        close = sql.find("*/", position)
        if close < 0:
            raise DoubtError("it has an unterminated comment")
        opening = sql.find("/*", position, close) if nested else -1
        if opening >= 0:
            depth, position = depth + 1, opening + 2
        else:
            depth, position = depth - 1, close + 2
    return position


def _quoted(sql: str, position: int, closing: str, *, escapes: bool, doubled: bool) -> tuple[int, str]:
    start, position = position, position + 1
    while position < len(sql):
        char = sql[position]
        if escapes and char == "\\":
            position += 2
            continue
        if char == closing:
            if doubled and sql.startswith(closing * 2, position):
                position += 2
                continue
            return position + 1, sql[start : position + 1]
        position += 1
    raise DoubtError("it has an unterminated quoted string or name")


@functools.lru_cache(maxsize=1024)
def classify(sql: str, dialect: str) -> Classified:
    """The kind of `sql` if it is provably one statement on `dialect`, else a refusal."""
    if len(sql) > _MAX_LEXED:
        return Classified(OTHER, refusal="it is too long to be read with certainty")
    try:
        readings = [tokens(sql, dialect, backslash_escapes=False)]
        if dialect in MYSQL_DIALECTS or dialect == "postgresql":
            readings.append(tokens(sql, dialect, backslash_escapes=True))
    except DoubtError as doubt:
        return Classified(OTHER, refusal=str(doubt))
    shapes = {tuple(t.kind for t in reading) for reading in readings}
    if len(shapes) > 1:
        return Classified(
            OTHER,
            refusal="a backslash in a string is read differently depending on the server's settings",
        )
    statements: list[list[Token]] = [[]]
    for token in readings[0]:
        if token.kind == "semicolon":
            statements.append([])
        else:
            statements[-1].append(token)
    statements = [s for s in statements if s]
    if len(statements) != 1:
        reason = "it is empty" if not statements else "it is more than one statement"
        return Classified(OTHER, refusal=reason)
    return _kind(statements[0], dialect)


def _kind(statement: list[Token], dialect: str) -> Classified:
    words = [(i, t.text.upper()) for i, t in enumerate(statement) if t.kind == "word"]
    if not words or words[0][0] != 0:
        return Classified(OTHER, refusal="it does not start with a keyword")
    first = words[0][1]
    functions = tuple(
        word
        for i, word in words
        if i + 1 < len(statement) and statement[i + 1].text == "(" and not _keyword_before_parenthesis(word)
    )
    subquery = any(
        token.text == "("
        and i + 1 < len(statement)
        and statement[i + 1].kind == "word"
        and statement[i + 1].text.upper() in ("SELECT", "WITH")
        for i, token in enumerate(statement)
    )
    upper = [word for _, word in words]

    def result(kind: str) -> Classified:
        return Classified(kind, first, functions=functions, subquery=subquery, words=tuple(upper))

    if first in _WRITE_STARTS:
        return result(WRITE)
    if first in _DDL_STARTS:
        return result(DDL)
    if first in _SESSION_STARTS:
        return result(SESSION)
    if first not in _READ_STARTS:
        return result(OTHER)
    data_words = {"INSERT", "UPDATE", "DELETE", "MERGE"}
    if dialect in MYSQL_DIALECTS:
        data_words.add("REPLACE")
    lock_updates = 0
    locking = False
    for position, word in enumerate(upper):
        following = upper[position + 1 : position + 4]
        if word == "FOR" and {"UPDATE", "SHARE"} & set(following):
            locking = True
            lock_updates += "UPDATE" in following
        elif word == "LOCK" and "SHARE" in following:
            locking = True
        elif word == "INTO":
            return result(WRITE)  # SELECT INTO makes a table; MySQL's INTO OUTFILE writes a file
    writes = sum(1 for word in upper if word in data_words and word not in functions)
    if writes > lock_updates:
        return result(WRITE)
    return result(LOCKING_READ if locking else READ)


_NOT_REPLAYED = frozenset(
    {"GLOBAL", "PERSIST", "PERSIST_ONLY", "TRANSACTION", "AUTOCOMMIT", "CHARACTERISTICS", "PASSWORD"}
)


def session_change(sql: str, dialect: str) -> Optional[bool]:
    """None when `sql` does not change the session's state; True when it does and can be
    replayed on another connection (`SET search_path`, `SET ROLE`, `USE`); False when it
    changes more than one session or the transaction (`SET GLOBAL`, `SET TRANSACTION`)."""
    classified = classify(sql, dialect)
    if classified.kind != SESSION:
        return None
    return not (_NOT_REPLAYED & set(classified.words))


def _keyword_before_parenthesis(word: str) -> bool:
    return word in {
        "IN",
        "EXISTS",
        "VALUES",
        "AS",
        "ON",
        "USING",
        "FROM",
        "JOIN",
        "AND",
        "OR",
        "NOT",
        "WHERE",
        "SELECT",
        "WITH",
        "INTO",
        "ANY",
        "ALL",
        "SOME",
        "OVER",
        "FILTER",
        "LATERAL",
        "UNION",
        "EXCEPT",
        "INTERSECT",
        "TABLE",
        "SET",
        "RETURNING",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "BY",
        "HAVING",
        "LIMIT",
        "OFFSET",
        "IS",
        "LIKE",
        "BETWEEN",
        "ROW",
        "ARRAY",
        "DISTINCT",
    }
