"""What the SQL text of a statement says, read with sqlparse: its kind and its filter columns.

The kind decides what EXPLAIN may do with a statement: only `read` statements are ever
run by EXPLAIN ANALYZE.  sqlparse does not validate, so the reading errs on the careful
side: anything it cannot place is not `read`.

Filter columns name what a full scan is filtering on.  Databases word that differently
(PostgreSQL's `Filter`, MariaDB's `attached_condition`, nothing at all in SQLite), so the
columns come either from such an expression (`expression_columns`) or from the statement's
own WHERE and JOIN ... ON clauses (`statement_shape`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

import sqlparse
from sqlparse import sql as groups
from sqlparse import tokens as T  # noqa: N812 - sqlparse's own convention
from sqlparse.lexer import Lexer

READ = "read"
"""SELECT / VALUES / WITH ... SELECT without data-modifying parts or row locks."""
LOCKING_READ = "locking read"
"""SELECT ... FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE: reads that take row locks."""
WRITE = "write"
"""INSERT, UPDATE, DELETE, MERGE, REPLACE, SELECT INTO, or a CTE that changes data."""
DDL = "ddl"
OTHER = "other"
"""Transaction control, SET, PRAGMA, SHOW, EXPLAIN itself, calls: nothing to explain."""

_WRITE_WORDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "UPSERT"})
_READ_STARTS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
_MAX_PARSED = 50_000
"""Longer statements are not parsed (sqlparse is slow on huge texts); they count as OTHER."""


@functools.lru_cache(maxsize=512)
def statement_kind(sql: str) -> str:
    """One of READ, LOCKING_READ, WRITE, DDL, OTHER."""
    if len(sql) > _MAX_PARSED:
        return OTHER
    parsed = [s for s in sqlparse.parse(sql) if s.value.strip(" \t\r\n;")]
    if len(parsed) != 1:
        return OTHER
    words = [t.normalized.upper() for t in _flatten(parsed[0]) if t.is_keyword]
    if not words:
        return OTHER
    first = words[0]
    if first in _WRITE_WORDS:
        return WRITE
    if _is_ddl(parsed[0]):
        return DDL
    if first not in _READ_STARTS:
        return OTHER
    locking = False
    for position, word in enumerate(words):
        following = words[position + 1 : position + 4]
        if (word == "FOR" and {"UPDATE", "SHARE"} & set(following)) or (
            word == "LOCK" and "SHARE" in following
        ):
            locking = True
        elif word == "INTO":
            return WRITE
    writes = [w for w in words if w in _WRITE_WORDS]
    if locking:
        # The UPDATE of FOR [NO KEY] UPDATE is part of the lock clause, not a write.
        lock_updates = sum(
            1
            for position, word in enumerate(words)
            if word == "UPDATE" and "FOR" in words[max(position - 3, 0) : position]
        )
        if len(writes) > lock_updates:
            return WRITE
        return LOCKING_READ
    return WRITE if writes else READ


def _flatten(token: Any) -> Iterator[Any]:
    return token.flatten()  # type: ignore[no-any-return]


def _lexer() -> Any:
    return Lexer.get_default_instance()  # type: ignore[no-untyped-call]


def _identifier_list(token: Any) -> list[Any]:
    return list(token.get_identifiers())


def _is_ddl(statement: groups.Statement) -> bool:
    for token in _flatten(statement):
        if token.is_whitespace or token.ttype in T.Comment:
            continue
        return token.ttype is T.Keyword.DDL
    return False


# -- columns in expressions ----------------------------------------------------------

_OPERATOR_WORDS = frozenset(
    [
        "AND",
        "OR",
        "NOT",
        "IS",
        "NULL",
        "IN",
        "LIKE",
        "ILIKE",
        "BETWEEN",
        "TRUE",
        "FALSE",
        "UNKNOWN",
        "EXISTS",
        "ANY",
        "ALL",
        "SOME",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "END",
        "ESCAPE",
        "COLLATE",
        "DISTINCT",
        "FROM",
        "SIMILAR",
        "TO",
        "ARRAY",
        "AS",
        "SELECT",
        "WHERE",
        "ON",
        "USING",
        "REGEXP",
        "RLIKE",
        "DIV",
        "MOD",
        "XOR",
        "INTERVAL",
        "CAST",
        "ASC",
        "DESC",
        "BINARY",
        "SOUNDS",
        "NULLS",
        "FIRST",
        "LAST",
        "OVERLAPS",
    ]
)
"""Keywords that are operators or syntax in a condition; any other word may be a column.
(sqlparse lexes many column names, such as `level` or `data`, as keywords.)"""


def _unquote(name: str) -> str:
    if len(name) >= 2 and name[0] == name[-1] and name[0] in '"`[':
        return name[1:-1]
    if name.startswith("[") and name.endswith("]"):
        return name[1:-1]
    return name


def _is_name(ttype: Any, value: str) -> bool:
    if ttype in T.Name and ttype not in T.Name.Placeholder and ttype not in T.Name.Builtin:
        return True
    if ttype in T.Literal.String.Symbol:
        return True
    if ttype in T.Keyword and ttype not in T.Keyword.DML and ttype not in T.Keyword.DDL:
        return " " not in value and value.upper() not in _OPERATOR_WORDS
    return False


def columns_in_tokens(tokens: Iterable[tuple[Any, str]]) -> list[tuple[Optional[str], str]]:
    """(qualifier, column) pairs for the column references in a token stream.

    A name followed by `(` is a function, one after `::` a type, one before `.` a
    qualifier; the last part of a dotted name is the column.
    """
    meaningful = [
        (ttype, value) for ttype, value in tokens if ttype not in T.Whitespace and ttype not in T.Newline
    ]
    found: list[tuple[Optional[str], str]] = []
    position = 0
    while position < len(meaningful):
        ttype, value = meaningful[position]
        if not _is_name(ttype, value) or _preceded_by(meaningful, position, ("::", ".")):
            position += 1
            continue
        parts = [_unquote(value)]
        end = position
        while end + 2 < len(meaningful) and meaningful[end + 1][1] == "." and _is_name(*meaningful[end + 2]):
            parts.append(_unquote(meaningful[end + 2][1]))
            end += 2
        following = meaningful[end + 1][1] if end + 1 < len(meaningful) else ""
        if following != "(":
            qualifier = parts[-2] if len(parts) > 1 else None
            found.append((qualifier, parts[-1]))
        position = end + 1
    return found


def _preceded_by(tokens: list[tuple[Any, str]], position: int, values: tuple[str, ...]) -> bool:
    return position > 0 and tokens[position - 1][1] in values


@functools.lru_cache(maxsize=1024)
def expression_columns(expression: str) -> tuple[tuple[Optional[str], str], ...]:
    """Column references in a condition as a database prints it (PG `Filter`, MariaDB
    `attached_condition`): `((age = 3) AND (lower(name) ~~ 'n1%'::text))` → age, name."""
    lexed = _lexer().get_tokens(expression)
    return tuple(_dedupe(columns_in_tokens(lexed)))


def _dedupe(pairs: Iterable[tuple[Optional[str], str]]) -> list[tuple[Optional[str], str]]:
    seen: dict[tuple[Optional[str], str], None] = {}
    for qualifier, column in pairs:
        key = (qualifier.lower() if qualifier else None, column.lower())
        if key not in seen:
            seen[key] = None
    return [(q, c) for q, c in seen]


def columns_for(
    pairs: Iterable[tuple[Optional[str], str]], names: Iterable[str], *, bare: bool
) -> tuple[str, ...]:
    """The columns among `pairs` that belong to a table known by any of `names` (its
    name, its alias); unqualified columns count only when `bare` says they can."""
    wanted = {n.lower() for n in names if n}
    columns: dict[str, None] = {}
    for qualifier, column in pairs:
        if (qualifier is None and bare) or (qualifier is not None and qualifier.lower() in wanted):
            columns.setdefault(column.lower(), None)
    return tuple(columns)


# -- tables, aliases and filters of a whole statement -----------------------------------


@dataclass(frozen=True)
class StatementShape:
    """Tables a statement reads and the columns its clauses filter them on.

    Keys are lower-cased names as the statement uses them: the alias where there is one,
    else the table name (plans name scans either way).
    """

    tables: dict[str, str] = field(default_factory=dict)
    """Alias or name → table name."""
    where_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Alias or name → columns the WHERE clause of its scope filters on."""
    join_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Alias or name → columns of JOIN ... ON conditions."""

    def table(self, name: str) -> str:
        return self.tables.get(name.lower(), name)


_TABLE_KEYWORDS = ("FROM", "JOIN", "UPDATE", "INTO")


@functools.lru_cache(maxsize=256)
def statement_shape(sql: str) -> StatementShape:
    """Tables, aliases and filter columns of `sql`, scope by scope (subqueries included)."""
    shape = StatementShape()
    if len(sql) > _MAX_PARSED:
        return shape
    try:
        parsed = sqlparse.parse(sql)
    except Exception:  # sqlparse gives up on some inputs; a plan without columns is still a plan
        return shape
    for statement in parsed:
        for scope in _scopes(statement):
            _read_scope(scope, shape)
    return shape


def _is_subquery(token: Any) -> bool:
    if not isinstance(token, groups.Parenthesis):
        return False
    for inner in token.tokens[1:]:
        if inner.is_whitespace or inner.ttype in T.Comment:
            continue
        return bool(inner.ttype in T.Keyword.DML or inner.ttype in T.Keyword.CTE)
    return False


def _scopes(token: Any) -> Iterator[Any]:
    """The statement and every subquery in it, each a token list of its own."""
    yield token
    for child in _children(token):
        if child.is_group:
            if _is_subquery(child):
                yield from _scopes(child)
            else:
                yield from (s for s in _scopes(child) if s is not child)


def _children(token: Any) -> list[Any]:
    return list(token.tokens) if token.is_group else []


def _leaves(token: Any) -> Iterator[tuple[Any, str]]:
    """Leaf tokens of a clause, not descending into subqueries (they are scopes of their own)."""
    if not token.is_group:
        yield token.ttype, token.value
        return
    for child in token.tokens:
        if _is_subquery(child):
            continue
        yield from _leaves(child)


def _read_scope(scope: Any, shape: StatementShape) -> None:
    tables: list[str] = []
    where: list[tuple[Optional[str], str]] = []
    joins: list[tuple[Optional[str], str]] = []
    expect_table = False
    in_join_condition = False
    tokens = scope.tokens
    for token in tokens:
        if token.is_whitespace or token.ttype in T.Comment or token.ttype in T.Punctuation:
            continue
        if token.is_keyword:
            word = token.normalized.upper()
            expect_table = word in _TABLE_KEYWORDS or word.endswith(" JOIN")
            in_join_condition = word == "ON"
            continue
        if isinstance(token, groups.Where):
            where.extend(columns_in_tokens(_leaves(token)))
            in_join_condition = False
            continue
        if expect_table:
            for identifier in _identifiers(token):
                name = _table_of(identifier, shape)
                if name:
                    tables.append(name)
            expect_table = False
            continue
        if in_join_condition:
            joins.extend(columns_in_tokens(_leaves(token)))
    _assign(where, tables, shape.where_columns)
    _assign(joins, tables, shape.join_columns)


def _identifiers(token: Any) -> list[Any]:
    if isinstance(token, groups.IdentifierList):
        return [t for t in _identifier_list(token) if isinstance(t, groups.Identifier)]
    if isinstance(token, groups.Identifier):
        return [token]
    if isinstance(token, groups.Function):  # `INSERT INTO t (a, b)` groups as a function
        names = [t for t in token.tokens if isinstance(t, groups.Identifier)]
        return names[:1]
    return []


def _table_of(identifier: Any, shape: StatementShape) -> Optional[str]:
    """Register a FROM item's alias and return the key it is known by (None for subqueries)."""
    if any(_is_subquery(t) for t in identifier.tokens):
        alias = identifier.get_alias()
        return alias.lower() if alias else None
    real = identifier.get_real_name()
    if not real:
        return None
    real = _unquote(real)
    alias = identifier.get_alias()
    key = _unquote(alias).lower() if alias else real.lower()
    shape.tables.setdefault(key, real)
    shape.tables.setdefault(real.lower(), real)
    return key


def _assign(
    pairs: list[tuple[Optional[str], str]], tables: list[str], target: dict[str, tuple[str, ...]]
) -> None:
    only = tables[0] if len(tables) == 1 else None
    for qualifier, column in pairs:
        key = qualifier.lower() if qualifier else only
        if key is None:
            continue
        columns = target.get(key, ())
        if column.lower() not in columns:
            target[key] = (*columns, column.lower())
